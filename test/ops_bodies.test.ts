// The com.ranksort ops' portable function bodies, run by stock onnxruntime (node CPU EP, web WASM EP).
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as ortNode from "onnxruntime-node";
import { rankSortLoss, apLoss, alrpLoss } from "../src/index.ts";
import { getBackend } from "../src/backends/index.ts";
import { compareOutputs, evaluateCase } from "../src/cases/evaluate_case.ts";
import { readCase } from "../src/cases/case_file.ts";
import { maxToleranceRatio } from "../src/cases/tolerance.ts";
import { float, GraphBuilder } from "../src/onnx/builder.ts";
import { encodeModel } from "../src/onnx/model_io.ts";
import { DOMAIN } from "../src/ops/domain.ts";
import { functionsFor } from "../src/ops/library.ts";
import { detectionCase } from "../src/cases/synthetic.ts";
import { caseDirs } from "./support/golden.ts";

// The repository's exactness cases always, shared/golden too when present.
const files = caseDirs().flatMap((dir) => readdirSync(dir).filter((f) => /\.json(\.gz)?$/.test(f) && f !== "MANIFEST.json").map((f) => join(dir, f)));

for (const backendName of ["ort-cpu", "ort-wasm"]) {
  describe(`golden cases through the function bodies on ${backendName}`, () => {
    for (const path of files) {
      test(path.split("/").slice(-2).join("/"), async () => {
        const c = readCase(path);
        const out = await evaluateCase(c, await getBackend(backendName));
        const cmp = compareOutputs(out, c.outputs!);
        expect(cmp.lossError).toBeLessThanOrEqual(1e-6);
        expect(cmp.gradToleranceRatio).toBeLessThanOrEqual(1);
        if (c.loss === "alrp") {
          const o = out as { rank: number[]; order: number[] };
          expect(maxToleranceRatio(o.rank, c.outputs!.rank as number[], 0, 1e-6)).toBeLessThanOrEqual(1);
          const posLogits = Array.from(c.logits).filter((_, i) => c.targets[i] === 1);
          expect(o.order.map((p) => posLogits[p])).toEqual([...posLogits].sort((a, b) => a - b));
        }
      });
    }
  });
}

describe("function bodies agree with the CPU kernels", () => {
  const cases = [
    { numel: 4000, positives: 60, regime: "early" as const, seed: 11, ignoredFraction: 0.05 },
    // Large enough that float32 prefix sums would fail: the float32 body's int64 sums must hold.
    { numel: 200_000, positives: 300, regime: "early" as const, seed: 14 },
    { numel: 4000, positives: 60, regime: "late" as const, seed: 12 },
    { numel: 500, positives: 1, regime: "late" as const, seed: 13 },
  ];
  for (const [backendName, delta] of [["ort-cpu", 0], ["ort-cpu", 0.5], ["ort-cpu", 1], ["ort-cpu-f32", 0], ["ort-cpu-f32", 0.5], ["ort-cpu-f32", 1]] as const) {
    test(`RankSort parts, AP, aLRP at delta ${delta} (${backendName === "ort-cpu" ? "float64" : "float32"} bodies)`, async () => {
      const ort = await getBackend(backendName);
      for (const spec of cases) {
        const c = detectionCase(spec);
        const k = rankSortLoss(c.logits, c.targets, { delta });
        const b = await ort.rankSort(c.logits, c.targets, { delta });
        expect(Math.abs(b.rankingLoss - k.rankingLoss)).toBeLessThanOrEqual(1e-6);
        expect(Math.abs(b.sortingLoss - k.sortingLoss)).toBeLessThanOrEqual(1e-6);
        expect(maxToleranceRatio(b.gradRanking, k.gradRanking)).toBeLessThanOrEqual(1);
        expect(maxToleranceRatio(b.gradSorting, k.gradSorting)).toBeLessThanOrEqual(1);
        expect(b.numRelevantNegatives).toBe(k.numRelevantNegatives);
        if (delta > 0) {
          const ka = apLoss(c.logits, c.binaryTargets, { delta });
          const ba = await ort.ap(c.logits, c.binaryTargets, { delta });
          expect(Math.abs(ba.loss - ka.loss)).toBeLessThanOrEqual(1e-6);
          expect(maxToleranceRatio(ba.grad, ka.grad)).toBeLessThanOrEqual(1);
          const kl = alrpLoss(c.logits, c.binaryTargets, c.regressionLosses, { delta });
          const bl = await ort.alrp(c.logits, c.binaryTargets, c.regressionLosses, { delta });
          expect(Math.abs(bl.loss - kl.loss)).toBeLessThanOrEqual(1e-6);
          expect(maxToleranceRatio(bl.grad, kl.grad)).toBeLessThanOrEqual(1);
          expect(Array.from(bl.order)).toEqual(Array.from(kl.order));
        }
      }
    });
  }

  test("no positive: zero losses and zero gradients (the If's else branch)", async () => {
    const ort = await getBackend("ort-cpu");
    const logits = new Float32Array([0.3, -1, 2]);
    const targets = new Float32Array([0, -1, 0]);
    const r = await ort.rankSort(logits, targets, {});
    expect([r.rankingLoss, r.sortingLoss]).toEqual([0, 0]);
    expect(Array.from(r.grad)).toEqual([0, 0, 0]);
    const a = await ort.alrp(logits, targets, new Float32Array(0), {});
    expect(a.loss).toBe(0);
    expect(a.rank.length).toBe(0);
  });
});

describe("Grad ops honour both upstream weights", () => {
  test("RankSortLossGrad = d_rank·grad_ranking + d_sort·grad_sorting; APLossGrad, ALRPLossGrad scale grad", async () => {
    const c = detectionCase({ numel: 3000, positives: 40, regime: "early", seed: 5 });
    const g = new GraphBuilder("grads", { "": 17, [DOMAIN]: 1 });
    for (const fn of functionsFor(["RankSortLossGrad", "APLossGrad", "ALRPLossGrad"])) g.addFunction(fn);
    const logits = g.input("logits", "float32", ["N"]);
    const targets = g.input("targets", "float32", ["N"]);
    const binary = g.input("binary", "float32", ["N"]);
    const reg = g.input("reg", "float32", ["P"]);
    const dr = g.scalar("float32", 2);
    const ds = g.scalar("float32", 3);
    g.output(g.op1("RankSortLossGrad", [logits, targets, dr, ds], { delta: float(0.5) }, { domain: DOMAIN }), "rs");
    g.output(g.op1("APLossGrad", [logits, binary, dr], {}, { domain: DOMAIN }), "ap");
    g.output(g.op1("ALRPLossGrad", [logits, binary, reg, ds], {}, { domain: DOMAIN }), "alrp");
    const s = await ortNode.InferenceSession.create(encodeModel(g.model()));
    const t = (a: Float32Array) => new ortNode.Tensor("float32", a, [a.length]);
    const out = await s.run({ logits: t(c.logits), targets: t(c.targets), binary: t(c.binaryTargets), reg: t(c.regressionLosses) });
    const k = rankSortLoss(c.logits, c.targets);
    const expected = k.gradRanking.map((x, i) => 2 * x + 3 * k.gradSorting[i]!);
    expect(maxToleranceRatio(out.rs!.data as Float32Array, expected)).toBeLessThanOrEqual(1);
    const ka = apLoss(c.logits, c.binaryTargets);
    expect(maxToleranceRatio(out.ap!.data as Float32Array, ka.grad.map((x) => 2 * x))).toBeLessThanOrEqual(1);
    const kl = alrpLoss(c.logits, c.binaryTargets, c.regressionLosses);
    expect(maxToleranceRatio(out.alrp!.data as Float32Array, kl.grad.map((x) => 3 * x))).toBeLessThanOrEqual(1);
  });
});

describe("ranksort export-op", () => {
  test("the exported model runs in plain onnxruntime-node with no ranksort code loaded", () => {
    const root = resolve(import.meta.dir, "..");
    const out = mkdtempSync(join(tmpdir(), "ranksort-export-"));
    try {
      const model = join(out, "rs.onnx");
      const r = spawnSync(process.execPath, [join(root, "bin", "ranksort.mjs"), "export-op", "RankSortLoss", "--delta", "0.5", "-o", model], { encoding: "utf8" });
      expect(r.status).toBe(0);
      // A script that knows nothing of ranksort, resolved from the repository's node_modules.
      const script = join(root, "node_modules", `.ranksort-plain-${process.pid}.mjs`);
      writeFileSync(
        script,
        `import * as ort from "onnxruntime-node";
const s = await ort.InferenceSession.create(process.argv[2]);
const T = (a) => new ort.Tensor("float32", Float32Array.from(a), [a.length]);
const out = await s.run({ logits: T([1.5, 2.0, 0.5, 1.0, -0.25, 0.75, 0.25, -2.0]), targets: T([0, 0.875, 0, 0.5, 0, 0, 0.75, 0]) });
console.log(JSON.stringify({ ranking: out.ranking_loss.data[0], sorting: out.sorting_loss.data[0], grad: Array.from(out.grad.data) }));`,
      );
      try {
        const run = spawnSync("node", [script, model], { encoding: "utf8" });
        expect(run.status).toBe(0);
        const res = JSON.parse(run.stdout.trim().split("\n").at(-1)!);
        expect(res.ranking).toBeCloseTo(226 / 693, 6);
        expect(res.sorting).toBeCloseTo(2 / 45, 6);
        expect(maxToleranceRatio(res.grad, [128 / 693, 0, 1 / 21, -53 / 495, 0, 65 / 693, -23 / 105, 0])).toBeLessThanOrEqual(1);
      } finally {
        rmSync(script, { force: true });
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
