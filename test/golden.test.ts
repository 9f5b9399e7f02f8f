// Every exactness case (produced by the official implementation) within its stated tolerance: the
// repository's own (test/exactness/, so a clone checks them) and shared/golden when present.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { alrpLoss, apLoss, rankSortLoss } from "../src/index.ts";
import { readCase } from "../src/cases/case_file.ts";
import { caseDirs, exactnessDir, goldenDir, maxToleranceRatio, LOSS_TOL } from "./support/golden.ts";

const dirs = caseDirs();
if (!goldenDir()) console.log("shared golden cases not present (RANKSORT_GOLDEN_DIR or shared/ beside the repo): checking the repository's own exactness cases only");

test("the repository carries its exactness cases, each listed in its manifest", () => {
  const own = readdirSync(exactnessDir()).filter((f) => /\.json(\.gz)?$/.test(f) && f !== "MANIFEST.json").sort();
  expect(own.length).toBeGreaterThanOrEqual(10);
  const manifest = JSON.parse(readFileSync(join(exactnessDir(), "MANIFEST.json"), "utf8"));
  expect(manifest.ref.commit).toMatch(/^[0-9a-f]{40}$/);
  expect(manifest.cases.map((c: { file: string }) => c.file).sort()).toEqual(own);
  expect(new Set(own.map((f) => readCase(join(exactnessDir(), f)).loss))).toEqual(new Set(["rank_sort", "ap", "alrp"]));
});

describe.each(dirs.map((d) => [d === exactnessDir() ? "test/exactness" : "shared golden", d] as const))("exactness cases in %s (CPU kernel)", (_label, dir) => {
  const files = readdirSync(dir).filter((f) => /\.json(\.gz)?$/.test(f) && f !== "MANIFEST.json");
  if (dir === goldenDir()) test("the shared golden directory holds cases", () => expect(files.length).toBeGreaterThan(30));
  for (const file of files) {
    test(file, () => {
      const c = readCase(join(dir, file));
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
  for (const dir of dirs) expect(existsSync(join(dir, "MANIFEST.json"))).toBe(true);
});
