// The runtime: inline (function bodies) and kernels (graph split at our nodes) modes give the same
// results on onnxruntime-node CPU and onnxruntime-web WASM; bad input gets clear errors.
import { describe, expect, test } from "bun:test";
import { float, GraphBuilder } from "../src/onnx/builder.ts";
import { rankSortLoss } from "../src/index.ts";
import { detectionCase } from "../src/cases/synthetic.ts";
import { maxToleranceRatio } from "../src/cases/tolerance.ts";
import { DOMAIN } from "../src/ops/domain.ts";
import { RankSortSession } from "../src/runtime/session.ts";
import { splitAtCustomNodes } from "../src/runtime/split_graph.ts";
import type { HostTensor } from "../src/runtime/host_tensor.ts";
import { registerKernelBackend } from "../src/runtime/kernel_backend.ts";
import { lossKernelBackend } from "../src/runtime/loss_kernel_backend.ts";
import { mulberry32 } from "../src/util/random.ts";

/** features [N, F] · W [F] + b → logits [N] → RankSortLoss → weighted total and its logit gradient. */
function headWithLoss(F: number) {
  const rand = mulberry32(9);
  const g = new GraphBuilder("head", { "": 17, [DOMAIN]: 1 });
  const feats = g.input("features", "float32", ["N", F]);
  const targets = g.input("targets", "float32", ["N"]);
  const w = g.initializer("w", "float32", Float32Array.from({ length: F }, () => rand() - 0.5), [F, 1]);
  const logits = g.op1("Reshape", [g.op1("MatMul", [feats, w]), g.ints([-1])]);
  const [rl, sl, gr, gs] = g.op("RankSortLoss", [logits, targets], { delta: float(0.5) }, { domain: DOMAIN, outputs: ["rl", "sl", "gr", "gs"], name: "rs" });
  const dLogits = g.op1("RankSortLossGrad", [logits, targets, g.scalar("float32", 1), g.scalar("float32", 0.5)], { delta: float(0.5) }, { domain: DOMAIN, name: "rs_grad" });
  g.output(g.op1("Add", [rl!, g.op1("Mul", [sl!, g.scalar("float32", 0.5)])]), "total", "float32", []);
  g.output(dLogits, "d_logits", "float32", ["N"]);
  g.output(g.op1("Add", [gr!, gs!]), "grad", "float32", ["N"]);
  g.output(logits, "logits_out", "float32", ["N"]);
  return g.model();
}

function feedsFor(N: number, F: number): Record<string, HostTensor> {
  const rand = mulberry32(4);
  const c = detectionCase({ numel: N, positives: 12, regime: "early", seed: 2 });
  return {
    features: { type: "float32", data: Float32Array.from({ length: N * F }, () => rand() * 2 - 1), dims: [N, F] },
    targets: { type: "float32", data: c.targets, dims: [N] },
  };
}

describe("RankSortSession", () => {
  const N = 600;
  const F = 8;
  const model = headWithLoss(F);
  const feeds = feedsFor(N, F);

  test("the split puts our nodes between standard stages", () => {
    const steps = splitAtCustomNodes(model);
    expect(steps.map((s) => (s.kind === "custom" ? s.node.opType : "onnx"))).toEqual(["onnx", "RankSortLoss", "RankSortLossGrad", "onnx"]);
  });

  test("the split recomputes constants and shape arithmetic where they are needed instead of passing them", () => {
    // stage 0: y = Relu(x), Shape(y); custom: RankSortLoss(y); stage 1: loss · k, Reshape(y · loss, Shape(y))
    const g = new GraphBuilder("split", { "": 17, [DOMAIN]: 1 });
    const x = g.input("x", "float32", ["N"]);
    const t = g.input("t", "float32", ["N"]);
    const y = g.op1("Relu", [x], {}, { name: "relu" });
    const passedShape = g.op1("Shape", [y], {}, { name: "shape_of_y" });
    const k = g.op1("Add", [g.scalar("float32", 2), g.scalar("float32", 1)], {}, { name: "k" });
    const [rl] = g.op("RankSortLoss", [y, t], {}, { domain: DOMAIN, outputs: ["rl", ""], name: "rs" });
    g.output(g.op1("Mul", [rl!, k], {}, { name: "scaled" }), "scaled", "float32", []);
    g.output(g.op1("Reshape", [g.op1("Mul", [y, rl!]), passedShape], {}, { name: "reshaped" }), "reshaped", "float32", ["N"]);
    const steps = splitAtCustomNodes(g.model());
    expect(steps.map((s) => s.kind)).toEqual(["onnx", "custom", "onnx"]);
    const [first, , second] = steps as [Extract<(typeof steps)[number], { kind: "onnx" }>, unknown, Extract<(typeof steps)[number], { kind: "onnx" }>];
    // k is built again in the second stage (its Constants and the Add); Shape(y) of a value the
    // stage only receives is passed, marked as shape data for the host.
    expect(second.model.graph!.node.map((n) => n.name)).toContain("k");
    expect(second.inputs.sort()).toEqual(["rl", passedShape.name, y.name].sort());
    expect(first.outputs).not.toContain(k.name);
    expect(first.shapeOutputs).toEqual([passedShape.name]);
  });

  test("nodes that wait for a custom node join the stage of their consumers", () => {
    // RankSortLoss → rl → heavy (Relu), used only after RankSortLossGrad: heavy belongs to the last stage.
    const g = new GraphBuilder("late", { "": 17, [DOMAIN]: 1 });
    const x = g.input("x", "float32", ["N"]);
    const t = g.input("t", "float32", ["N"]);
    const [rl] = g.op("RankSortLoss", [x, t], {}, { domain: DOMAIN, outputs: ["rl", ""], name: "rs" });
    const d = g.op1("Identity", [rl!], {}, { name: "upstream" });
    const heavy = g.op1("Relu", [rl!], {}, { name: "heavy" });
    const dx = g.op1("RankSortLossGrad", [x, t, d, d], {}, { domain: DOMAIN, name: "rs_grad" });
    g.output(g.op1("Mul", [dx, heavy], {}, { name: "after" }), "after", "float32", ["N"]);
    const steps = splitAtCustomNodes(g.model());
    const stageOf = (name: string) => steps.findIndex((s) => s.kind === "onnx" && s.model.graph!.node.some((n) => n.name === name));
    expect(stageOf("upstream")).toBeLessThan(steps.findIndex((s) => s.kind === "custom" && s.node.name === "rs_grad"));
    expect(stageOf("heavy")).toBe(stageOf("after"));
  });

  for (const ep of ["cpu", "wasm"] as const) {
    test(`inline and kernels modes agree with the CPU kernel on ${ep}`, async () => {
      const results = [];
      for (const mode of ["inline", "kernels"] as const) {
        const s = await RankSortSession.create(model, { executionProvider: ep, mode });
        results.push(await s.run(feeds));
      }
      const logits = results[0]!.logits_out!.data as Float32Array;
      const k = rankSortLoss(logits, feeds.targets!.data as Float32Array);
      for (const r of results) {
        expect((r.total!.data as Float32Array)[0]).toBeCloseTo(k.rankingLoss + 0.5 * k.sortingLoss, 6);
        expect(maxToleranceRatio(r.grad!.data as Float32Array, k.grad)).toBeLessThanOrEqual(1);
        const expected = k.gradRanking.map((g, i) => g + 0.5 * k.gradSorting[i]!);
        expect(maxToleranceRatio(r.d_logits!.data as Float32Array, expected)).toBeLessThanOrEqual(1);
      }
    });
  }

  test("clear errors: unknown EP, bad thread count, missing/unknown input, wrong dtype into our node", async () => {
    await expect(RankSortSession.create(model, { executionProvider: "tpu" as never })).rejects.toThrow(/unknown execution provider "tpu"/);
    await expect(RankSortSession.create(model, { executionProvider: "cuda" })).rejects.toThrow(/execution provider cuda is not available in this onnxruntime-node build/);
    for (const threads of [0, -1, 1.5, Number.NaN]) await expect(RankSortSession.create(model, { threads })).rejects.toThrow(/threads: expected a whole number ≥ 1, got/);
    await expect(RankSortSession.create(model, { optimization: "extended" as never })).rejects.toThrow(/optimization: expected "basic" or "all", got "extended"/);
    const s = await RankSortSession.create(model, { mode: "kernels" });
    await expect(s.run({ features: feeds.features! })).rejects.toThrow(/missing input "targets"/);
    await expect(s.run({ ...feeds, extra: feeds.targets! })).rejects.toThrow(/unknown input "extra"/);
    const bad = new GraphBuilder("bad", { "": 17, [DOMAIN]: 1 });
    const l = bad.input("l", "float32", ["N"]);
    const t = bad.input("t", "float32", ["N"]);
    const [a] = bad.op("APLoss", [bad.op1("Cast", [l], { to: 11 }), t], {}, { domain: DOMAIN, outputs: ["a", "g"], name: "ap" });
    bad.output(a!, "a", "float32");
    await expect(RankSortSession.create(bad.model())).rejects.toThrow(/ap.*APLoss input 0 \(logits\) .* must be float32, got float64/);
  });

  test("a session built with basic optimization computes what the fully optimized one does", async () => {
    const [basic, all] = await Promise.all([RankSortSession.create(model, { optimization: "basic" }), RankSortSession.create(model)]);
    const [a, b] = [await basic.run(feeds), await all.run(feeds)];
    for (const name of Object.keys(b)) expect([...(a[name]!.data as Float32Array)]).toEqual([...(b[name]!.data as Float32Array)]);
  });

  test("release frees the onnxruntime sessions: a run after it fails clearly; runOnce gives one run's outputs", async () => {
    for (const mode of ["inline", "kernels"] as const) {
      const session = await RankSortSession.create(model, { mode });
      const before = await session.run(feeds);
      await session.release();
      await expect(session.run(feeds)).rejects.toThrow(/this session was released/);
      const once = await RankSortSession.runOnce(model, { mode }, feeds);
      for (const name of Object.keys(before)) expect([...(once[name]!.data as Float32Array)]).toEqual([...(before[name]!.data as Float32Array)]);
    }
  });

  test("a kernel backend registered from outside plugs in by name", async () => {
    const seen: string[] = [];
    registerKernelBackend("counting", async () => {
      const inner = await lossKernelBackend("cpu");
      return { name: "counting", location: "cpu", run: (node, inputs, ort) => (seen.push(node.opType), inner.run(node, inputs, ort)) };
    });
    const s = await RankSortSession.create(model, { mode: "kernels", kernelBackend: "counting" });
    const out = await s.run(feeds);
    expect(seen).toEqual(["RankSortLoss", "RankSortLossGrad"]);
    expect(Number.isFinite((out.total!.data as Float32Array)[0]!)).toBe(true);
    await expect(RankSortSession.create(model, { mode: "kernels", kernelBackend: "nope" })).rejects.toThrow(/unknown kernel backend "nope"; available: cpu(, [\w-]+)*, counting/);
  });
});
