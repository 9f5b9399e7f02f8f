// The WGSL kernels against the CPU kernels on random and detection-sized cases, and their errors on
// bad input, in whatever host runs this file (Deno on lavapipe, Bun/Node on SwiftShader, or a real
// GPU). Prints one JSON line: per case the loss error and the worst gradient error / tolerance.
//   deno run -A test/support/webgpu_kernel_check.ts [--large]
import process from "node:process";
import { alrpLoss, apLoss, rankSortLoss } from "../../kernels/cpu/index.ts";
import { getBackend } from "../../src/backends/index.ts";
import { detectionCase } from "../../src/cases/synthetic.ts";
import { maxToleranceRatio } from "../../src/cases/tolerance.ts";
import { mulberry32 } from "../../src/util/random.ts";
import { float, GraphBuilder } from "../../src/onnx/builder.ts";
import { DOMAIN } from "../../src/ops/domain.ts";
import { RankSortSession } from "../../src/runtime/session.ts";

const large = process.argv.includes("--large");
const gpu = await getBackend("webgpu");
const rows: { name: string; lossError: number; gradRatio: number; positives: number; relevant: number }[] = [];
const errors: { name: string; message: string }[] = [];

function record(name: string, lossErrors: number[], gradRatios: number[], positives: number, relevant: number) {
  rows.push({ name, lossError: Math.max(...lossErrors), gradRatio: Math.max(...gradRatios), positives, relevant });
}

async function compareAll(name: string, logits: Float32Array, targets: Float32Array, binary: Float32Array, regression: Float32Array, delta: number) {
  const cpuRs = rankSortLoss(logits, targets, { delta });
  const gpuRs = await gpu.rankSort(logits, targets, { delta });
  record(
    `${name} rank_sort δ=${delta}`,
    [Math.abs(cpuRs.rankingLoss - gpuRs.rankingLoss), Math.abs(cpuRs.sortingLoss - gpuRs.sortingLoss)],
    [maxToleranceRatio(gpuRs.gradRanking, cpuRs.gradRanking), maxToleranceRatio(gpuRs.gradSorting, cpuRs.gradSorting)],
    gpuRs.numPositives - cpuRs.numPositives === 0 ? gpuRs.numPositives : -1,
    gpuRs.numRelevantNegatives - cpuRs.numRelevantNegatives === 0 ? gpuRs.numRelevantNegatives : -1,
  );
  const apDelta = delta === 0 ? 0 : 2 * delta;
  const cpuAp = apLoss(logits, binary, { delta: apDelta });
  const gpuAp = await gpu.ap(logits, binary, { delta: apDelta });
  record(`${name} ap δ=${apDelta}`, [Math.abs(cpuAp.loss - gpuAp.loss)], [maxToleranceRatio(gpuAp.grad, cpuAp.grad)], gpuAp.numPositives, gpuAp.numRelevantNegatives);
  const cpuAlrp = alrpLoss(logits, binary, regression, { delta: apDelta });
  const gpuAlrp = await gpu.alrp(logits, binary, regression, { delta: apDelta });
  const orderSame = cpuAlrp.order.every((v, i) => v === gpuAlrp.order[i]) ? 0 : Infinity;
  record(
    `${name} alrp δ=${apDelta}`,
    [Math.abs(cpuAlrp.loss - gpuAlrp.loss), orderSame],
    [maxToleranceRatio(gpuAlrp.grad, cpuAlrp.grad), maxToleranceRatio(gpuAlrp.rank, cpuAlrp.rank, 1e-6, 1e-5)],
    gpuAlrp.numPositives,
    gpuAlrp.numRelevantNegatives,
  );
}

// Random small cases: ties in logits and targets, ignored entries, every δ.
const rand = mulberry32(7);
for (let c = 0; c < 12; c++) {
  const n = 50 + Math.floor(rand() * 400);
  const logits = new Float32Array(n);
  const targets = new Float32Array(n);
  const tiedLogits = c % 3 === 0;
  for (let i = 0; i < n; i++) {
    logits[i] = tiedLogits ? Math.round(rand() * 8) / 4 - 1 : (rand() - 0.5) * 4;
    const u = rand();
    targets[i] = u < 0.2 ? (c % 2 ? Math.round(rand() * 4) / 4 || 0.25 : 0.05 + 0.95 * rand()) : u < 0.3 ? -1 : 0;
  }
  const binary = targets.map((t) => (t > 0 ? 1 : t));
  const regression = Float32Array.from({ length: binary.filter((t) => t === 1).length }, () => rand());
  await compareAll(`random#${c} n=${n}${tiedLogits ? " tied" : ""}`, logits, targets, binary, regression, [0, 0.25, 0.5, 1][c % 4]!);
}

// Detection-sized: 1.6e6 logits (2e4 anchors × 80 classes), early and late training.
const sizes = large ? [1_600_000] : [160_000];
for (const numel of sizes) {
  for (const regime of ["early", "late"] as const) {
    const d = detectionCase({ numel, positives: 500, regime, seed: 3, ignoredFraction: 0.01 });
    await compareAll(`detection ${numel} ${regime}`, d.logits, d.targets, d.binaryTargets, d.regressionLosses, 0.5);
  }
}

// No positive: zeros.
{
  const r = await gpu.rankSort(new Float32Array([0.1, 0.2, -3]), new Float32Array([0, -1, 0]), {});
  rows.push({ name: "no positives", lossError: Math.abs(r.rankingLoss) + Math.abs(r.sortingLoss), gradRatio: r.grad.some((g) => g !== 0) ? Infinity : 0, positives: r.numPositives, relevant: r.numRelevantNegatives });
}

// Bad input: each must fail with the tensor, the index and the value.
const bad: [string, () => Promise<unknown>][] = [
  ["nan target", () => gpu.rankSort(new Float32Array([1, 2, 3]), new Float32Array([0, NaN, 1]), {})],
  ["inf logit on a negative", () => gpu.rankSort(new Float32Array([1, Infinity, 3]), new Float32Array([0.5, 0, 0]), {})],
  ["nan logit on a positive", () => gpu.ap(new Float32Array([1, 2, NaN, 0]), new Float32Array([0, 1, 1, 0]), {})],
  ["ap target 0.5", () => gpu.ap(new Float32Array([1, 2, 3]), new Float32Array([0, 0.5, 1]), {})],
  ["alrp regression count", () => gpu.alrp(new Float32Array([1, 2, 3]), new Float32Array([1, 0, 1]), new Float32Array([0.5]), {})],
  ["alrp regression nan", () => gpu.alrp(new Float32Array([1, 2, 3]), new Float32Array([1, 0, 1]), new Float32Array([0.5, NaN]), {})],
  ["length mismatch", () => gpu.rankSort(new Float32Array([1, 2, 3]), new Float32Array([1, 0]), {})],
];
for (const [name, f] of bad) {
  try {
    await f();
    errors.push({ name, message: "(no error)" });
  } catch (e) {
    errors.push({ name, message: `${(e as Error).name}: ${(e as Error).message}` });
  }
}
// After errors the backend still computes correctly.
{
  const logits = new Float32Array([0.3, -0.2, 0.9, 0.1]);
  const targets = new Float32Array([0.8, 0, 0.4, 0]);
  const a = rankSortLoss(logits, targets);
  const b = await gpu.rankSort(logits, targets, {});
  rows.push({ name: "after errors", lossError: Math.abs(a.rankingLoss - b.rankingLoss), gradRatio: maxToleranceRatio(b.grad, a.grad), positives: b.numPositives, relevant: b.numRelevantNegatives });
}
// The kernel backend in a session (kernels mode; onnxruntime-node's CPU EP, so host tensors reach
// the kernels' own device): results equal the CPU kernels, and bad input names the node.
{
  const g = new GraphBuilder("loss", { "": 17, [DOMAIN]: 1 });
  const l = g.input("logits", "float32", ["N"]);
  const t = g.input("targets", "float32", ["N"]);
  const [rl, sl, gr, gs] = g.op("RankSortLoss", [l, t], { delta: float(0.5) }, { domain: DOMAIN, outputs: ["rl", "sl", "gr", "gs"] });
  g.output(g.op1("Add", [rl!, sl!]), "loss", "float32", []);
  g.output(g.op1("Add", [gr!, gs!]), "grad", "float32", ["N"]);
  const session = await RankSortSession.create(g.model(), { executionProvider: "cpu", mode: "kernels", kernelBackend: "webgpu" });
  const d = detectionCase({ numel: 20_000, positives: 60, regime: "late", seed: 9 });
  const out = await session.run({ logits: { type: "float32", data: d.logits, dims: [d.logits.length] }, targets: { type: "float32", data: d.targets, dims: [d.targets.length] } });
  const cpu = rankSortLoss(d.logits, d.targets, { delta: 0.5 });
  rows.push({
    name: "kernels-mode session",
    lossError: Math.abs((out.loss!.data as Float32Array)[0]! - (cpu.rankingLoss + cpu.sortingLoss)),
    gradRatio: maxToleranceRatio(out.grad!.data as Float32Array, cpu.grad),
    positives: cpu.numPositives,
    relevant: cpu.numRelevantNegatives,
  });
  try {
    const bad = d.targets.slice();
    bad[17] = NaN;
    await session.run({ logits: { type: "float32", data: d.logits, dims: [d.logits.length] }, targets: { type: "float32", data: bad, dims: [bad.length] } });
    errors.push({ name: "session nan target", message: "(no error)" });
  } catch (e) {
    errors.push({ name: "session nan target", message: `${(e as Error).name}: ${(e as Error).message}` });
  }
}
console.log(JSON.stringify({ rows, errors }));
