// Train-step graphs: a tiny model overfits a tiny batch (cpu, wasm), SGD/AdamW/clipping/frozen
// parameters behave, resume continues with the same losses, and export keeps the original graph.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "../../src/onnx/builder.ts";
import { decodeModel, encodeModel } from "../../src/onnx/model_codec.ts";
import type { HostTensor } from "../../src/runtime/host_tensor.ts";
import { meanSquaredError, rankSortLossTerm } from "../../src/train/losses.ts";
import { Trainer } from "../../src/train/trainer.ts";
import type { OptimizerSpec } from "../../src/train/train_step.ts";
import { CheckpointError } from "../../src/train/checkpoint.ts";
import { mulberry32 } from "../../src/util/random.ts";

/** x [B, 4] → Relu(x·W1 + b1) [B, 8] → ·W2 + b2 → y [B, 1]. */
function mlp(seed = 1) {
  const rand = mulberry32(seed);
  const r = (n: number, s: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * s);
  const g = new GraphBuilder("mlp");
  const x = g.input("x", "float32", ["B", 4]);
  const w1 = g.initializer("w1", "float32", r(32, 0.5), [4, 8]);
  const b1 = g.initializer("b1", "float32", r(8, 0.1), [8]);
  const w2 = g.initializer("w2", "float32", r(8, 0.5), [8, 1]);
  const b2 = g.initializer("b2", "float32", r(1, 0.1), [1]);
  const h = g.op1("Relu", [g.op1("Add", [g.op1("MatMul", [x, w1]), b1])]);
  g.output(g.op1("Add", [g.op1("MatMul", [h, w2]), b2]), "y", "float32", ["B", 1]);
  return g.model();
}

function batch(): Record<string, HostTensor> {
  const rand = mulberry32(7);
  const x = Float32Array.from({ length: 16 * 4 }, () => rand() * 2 - 1);
  const y = Float32Array.from({ length: 16 }, (_, i) => Math.sin(x[4 * i]! * 2) + 0.5 * x[4 * i + 1]! - x[4 * i + 2]! * x[4 * i + 3]!);
  return { x: { type: "float32", data: x, dims: [16, 4] }, target: { type: "float32", data: y, dims: [16, 1] } };
}

const mse = (optimizer: OptimizerSpec, extra: object = {}) => ({
  model: mlp(),
  optimizer,
  loss: (t: never, outputs: Record<string, { name: string }>, input: (n: string, d: "float32", s: (string | number)[]) => { name: string }) =>
    meanSquaredError(t, outputs.y as never, input("target", "float32", ["B", 1]) as never),
  ...extra,
});

async function trainLosses(trainer: Trainer, steps: number, lr: number): Promise<number[]> {
  const losses: number[] = [];
  const b = batch();
  for (let i = 0; i < steps; i++) losses.push(await trainer.trainStep(b, lr));
  return losses;
}

describe("Trainer", () => {
  const dir = mkdtempSync(join(tmpdir(), "ranksort-train-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const ep of ["cpu", "wasm"] as const) {
    test(`a tiny MLP overfits a tiny batch with AdamW (${ep})`, async () => {
      const trainer = await Trainer.create(mse({ kind: "adamw", weightDecay: 0 }) as never, { executionProvider: ep });
      const losses = await trainLosses(trainer, 300, 0.02);
      expect(losses[0]!).toBeGreaterThan(0.1);
      expect(losses.at(-1)!).toBeLessThan(0.02 * losses[0]!);
    }, 120_000);
  }

  test("SGD with Nesterov momentum and gradient clipping also converges; frozen parameters stay put", async () => {
    const trainer = await Trainer.create(mse({ kind: "sgd", momentum: 0.9, nesterov: true }, { clipGradNorm: 1, frozen: (n: string) => n === "w1" }) as never);
    expect(trainer.graph.parameters.sort()).toEqual(["b1", "b2", "w2"]);
    const losses = await trainLosses(trainer, 200, 0.05);
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
    const exported = await trainer.exportModel();
    const w1 = exported.graph!.initializer.find((t) => t.name === "w1")!;
    expect(Buffer.from(w1.rawData).equals(Buffer.from(mlp().graph!.initializer.find((t) => t.name === "w1")!.rawData))).toBe(true);
  }, 120_000);

  test("resume from a checkpoint continues with the same losses as an uninterrupted run", async () => {
    const spec = mse({ kind: "adamw", weightDecay: 0.01 });
    const straight = await Trainer.create(spec as never);
    const all = await trainLosses(straight, 20, 0.01);
    const first = await Trainer.create(spec as never);
    await trainLosses(first, 8, 0.01);
    const path = join(dir, "ckpt.bin");
    await first.saveCheckpoint(path, { note: "test" });
    const resumed = await Trainer.create(spec as never);
    const ckpt = resumed.loadCheckpoint(path);
    expect(ckpt.step).toBe(8);
    expect(ckpt.config.note).toBe("test");
    const rest = await trainLosses(resumed, 12, 0.01);
    expect(rest).toEqual(all.slice(8));
    writeFileSync(join(dir, "junk.bin"), "not a checkpoint");
    expect(() => resumed.loadCheckpoint(join(dir, "junk.bin"))).toThrow(CheckpointError);
  }, 120_000);

  test("the exported model is the original graph with trained weights", async () => {
    const trainer = await Trainer.create(mse({ kind: "adamw" }) as never);
    await trainLosses(trainer, 50, 0.02);
    const exported = await trainer.exportModel();
    expect(exported.graph!.node.map((n) => n.opType)).toEqual(mlp().graph!.node.map((n) => n.opType));
    expect(exported.graph!.input.map((v) => v.name)).toEqual(["x"]);
    const s = await ort.InferenceSession.create(encodeModel(exported));
    const b = batch();
    const out = await s.run({ x: new ort.Tensor("float32", b.x!.data as Float32Array, [16, 4]) });
    let err = 0;
    (out.y!.data as Float32Array).forEach((v, i) => (err += (v - (b.target!.data as Float32Array)[i]!) ** 2));
    expect(err / 16).toBeLessThan(0.2);
  }, 120_000);

  test("after the first step nothing the trainer holds views the bytes the model was decoded from", async () => {
    // So a caller that lets go of its model frees the file: the trained weights' bytes are dead after step 1.
    const rand = mulberry32(5);
    const g = new GraphBuilder("wide");
    const x = g.input("x", "float32", ["B", 4]);
    const w1 = g.initializer("w1", "float32", Float32Array.from({ length: 4 * 8192 }, () => (rand() * 2 - 1) * 0.05), [4, 8192]);
    const w2 = g.initializer("w2", "float32", Float32Array.from({ length: 8192 }, () => (rand() * 2 - 1) * 0.05), [8192, 1]);
    const frozenBias = g.initializer("b2", "float32", new Float32Array([0.25]), [1]);
    g.output(g.op1("Add", [g.op1("MatMul", [g.op1("Relu", [g.op1("MatMul", [x, w1])]), w2]), frozenBias]), "y", "float32", ["B", 1]);
    const bytes = encodeModel(g.model());
    const model = decodeModel(bytes);
    expect(model.graph!.initializer.find((t) => t.name === "w1")!.rawData.buffer).toBe(bytes.buffer as ArrayBuffer);
    const trainer = await Trainer.create({ ...mse({ kind: "sgd" }), model, frozen: (n: string) => n === "b2" } as never);
    await trainer.trainStep(batch(), 0.01);
    const views: string[] = [];
    const seen = new Set<object>();
    const walk = (o: unknown, path: string) => {
      if (!o || typeof o !== "object" || seen.has(o)) return;
      seen.add(o);
      if (ArrayBuffer.isView(o)) return void (o.buffer === bytes.buffer && views.push(path));
      for (const [k, v] of o instanceof Map ? o.entries() : Object.entries(o)) walk(v, `${path}.${String(k)}`);
    };
    walk(trainer, "trainer");
    expect(views).toEqual([]);
    // Export still has every weight: the trained ones from the trainer, the frozen one as it was.
    const exported = await trainer.exportModel();
    const w = Object.fromEntries(exported.graph!.initializer.map((t) => [t.name, new Float32Array(new Uint8Array(t.rawData).buffer)]));
    expect(w.w1!.length).toBe(4 * 8192);
    expect(Array.from(w.b2!)).toEqual([0.25]);
    expect(Array.from(w.w2!)).toEqual(Array.from((await trainer.parameters()).w2!.data as Float32Array));
  }, 120_000);

  test("on Node, the model file's bytes and the starting weights are freed when the second step starts", () => {
    // Not at the runtime's leisure: its next major collection can come after the second step has
    // allocated as much again, and the process's peak would carry the file (R18 detector: +40 MB).
    const root = join(import.meta.dir, "..", "..");
    const out = join(root, "node_modules", ".ranksort-test");
    mkdirSync(out, { recursive: true });
    const bundle = join(out, `first-step-release-${process.pid}.mjs`);
    try {
      const bun = join(root, "node_modules", ".bin", "bun");
      const b = spawnSync(bun, ["build", join(root, "test", "support", "first_step_release.ts"), "--target", "node", "--external", "onnxruntime-node", "--external", "onnxruntime-web", "--outfile", bundle], { encoding: "utf8" });
      expect(b.status).toBe(0);
      const r = spawnSync("node", [bundle], { encoding: "utf8", cwd: root });
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout)).toEqual({ "stepsPerRun 1": { file: true, starting: true }, "stepsPerRun 4": { file: true, starting: true } });
    } finally {
      rmSync(bundle, { force: true });
    }
  }, 120_000);

  test("RS loss trains a scorer through RankSortLossGrad (ranking + sorting falls)", async () => {
    const rand = mulberry32(5);
    const N = 200;
    const feats = Float32Array.from({ length: N * 4 }, () => rand() * 2 - 1);
    const targets = Float32Array.from({ length: N }, (_, i) => (feats[4 * i]! + feats[4 * i + 1]! > 0.8 ? 0.3 + 0.6 * rand() : 0));
    const g = new GraphBuilder("scorer");
    const x = g.input("x", "float32", [N, 4]);
    const w = g.initializer("w", "float32", Float32Array.from({ length: 4 }, () => (rand() - 0.5) * 0.1), [4, 1]);
    g.output(g.op1("Reshape", [g.op1("MatMul", [x, w]), g.ints([-1])]), "logits", "float32", [N]);
    const trainer = await Trainer.create({
      model: g.model(),
      optimizer: { kind: "sgd", momentum: 0.9 },
      loss: (t, outputs, input) => rankSortLossTerm(t, outputs.logits!, input("targets", "float32", [N])).total,
    });
    const b = { x: { type: "float32" as const, data: feats, dims: [N, 4] }, targets: { type: "float32" as const, data: targets, dims: [N] } };
    const losses: number[] = [];
    for (let i = 0; i < 60; i++) losses.push(await trainer.trainStep(b, 0.5));
    expect(losses.at(-1)!).toBeLessThan(0.7 * losses[0]!);
  }, 120_000);
});

describe("BatchNormalization in training mode", () => {
  test("running statistics update each step and export writes them back in inference form", async () => {
    const g = new GraphBuilder("bn");
    const x = g.input("x", "float32", [8, 2, 3, 3]);
    const scale = g.initializer("scale", "float32", [1, 1], [2]);
    const bias = g.initializer("bias", "float32", [0, 0], [2]);
    const mean = g.initializer("running_mean", "float32", [0, 0], [2]);
    const variance = g.initializer("running_var", "float32", [1, 1], [2]);
    const [y] = g.op("BatchNormalization", [x, scale, bias, mean, variance], { training_mode: 1, momentum: { kind: "float", value: 0.5 } }, { outputs: ["y", "", ""] });
    g.output(g.op1("ReduceMean", [y!], { keepdims: 0 }), "out", "float32", []);
    const trainer = await Trainer.create({ model: g.model(), optimizer: { kind: "sgd" }, loss: (t, outs) => t.mul(outs.out!, outs.out!) });
    expect(trainer.graph.buffers.sort()).toEqual(["running_mean", "running_var"]);
    expect(trainer.graph.parameters.sort()).toEqual(["bias", "scale"]);
    const rand = mulberry32(3);
    const data = Float32Array.from({ length: 8 * 18 }, () => 3 + rand());
    for (let i = 0; i < 4; i++) await trainer.trainStep({ x: { type: "float32", data, dims: [8, 2, 3, 3] } }, 0.1);
    const exported = await trainer.exportModel();
    const rm = exported.graph!.initializer.find((t) => t.name === "running_mean")!;
    const means = new Float32Array(new Uint8Array(rm.rawData).buffer);
    // Batch mean ≈ 3.5: after 4 steps with momentum 0.5 the running mean is 3.5·(1 − 0.5⁴) ≈ 3.28.
    for (const m of means) expect(m).toBeGreaterThan(3);
    const bn = exported.graph!.node.find((n) => n.opType === "BatchNormalization")!;
    expect(bn.attribute.some((a) => a.name === "training_mode")).toBe(false);
    expect(bn.output).toEqual(["y"]);
    const s = await ort.InferenceSession.create(encodeModel(exported));
    const out = await s.run({ x: new ort.Tensor("float32", data, [8, 2, 3, 3]) });
    expect(Number.isFinite((out.out!.data as Float32Array)[0]!)).toBe(true);
  }, 120_000);
});
