// Every case in shared/golden (produced by the official implementation) within its stated tolerance.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { alrpLoss, apLoss, rankSortLoss } from "../src/index.ts";
import { readCase } from "../src/cases/case_file.ts";
import { goldenDir, maxToleranceRatio, LOSS_TOL } from "./support/golden.ts";

const dir = goldenDir();
const files = dir ? readdirSync(dir).filter((f) => /\.json(\.gz)?$/.test(f) && f !== "MANIFEST.json") : [];
if (!dir) console.log("golden tests skipped: no golden directory (set RANKSORT_GOLDEN_DIR or place shared/ beside the repo)");

describe.skipIf(!dir)("golden cases (CPU kernel)", () => {
  test("the golden directory holds cases", () => {
    expect(files.length).toBeGreaterThan(30);
  });
  for (const file of files) {
    test(file, () => {
      const c = readCase(join(dir!, file));
      const out = c.outputs as Record<string, any>;
      if (c.loss === "rank_sort") {
        const r = rankSortLoss(c.logits, c.targets, { delta: c.params.delta_RS, eps: c.params.eps });
        expect(Math.abs(r.rankingLoss - out.ranking_loss)).toBeLessThanOrEqual(LOSS_TOL);
        expect(Math.abs(r.sortingLoss - out.sorting_loss)).toBeLessThanOrEqual(LOSS_TOL);
        expect(maxToleranceRatio(r.grad, out.grad)).toBeLessThanOrEqual(1);
        // The two parts add up to the combined gradient, and ranking alone carries every negative.
        for (let i = 0; i < r.grad.length; i++) {
          expect(Math.abs(r.gradRanking[i]! + r.gradSorting[i]! - r.grad[i]!)).toBeLessThanOrEqual(1e-7);
          if (c.targets[i] === 0) expect(r.gradSorting[i]).toBe(0);
        }
      } else if (c.loss === "ap") {
        const r = apLoss(c.logits, c.targets, { delta: c.params.delta });
        expect(Math.abs(r.loss - out.loss)).toBeLessThanOrEqual(LOSS_TOL);
        expect(maxToleranceRatio(r.grad, out.grad)).toBeLessThanOrEqual(1);
      } else {
        const r = alrpLoss(c.logits, c.targets, c.regressionLosses!, { delta: c.params.delta, eps: c.params.eps });
        expect(Math.abs(r.loss - out.loss)).toBeLessThanOrEqual(LOSS_TOL);
        expect(maxToleranceRatio(r.grad, out.grad)).toBeLessThanOrEqual(1);
        expect(maxToleranceRatio(r.rank, out.rank, 0, 1e-6)).toBeLessThanOrEqual(1);
        // The order sorts the positives' logits ascending (ties may be ordered either way).
        const posLogits = Array.from(c.logits).filter((_, i) => c.targets[i] === 1);
        const sortedByOrder = Array.from(r.order, (p) => posLogits[p]!);
        expect(sortedByOrder).toEqual([...posLogits].sort((a, b) => a - b));
        expect(new Set(r.order).size).toBe(posLogits.length);
      }
    });
  }
});

test("golden directory probe is not silently empty when present", () => {
  if (dir) expect(existsSync(join(dir, "MANIFEST.json"))).toBe(true);
});
