// Run on Node (bundled by the test): whether the model file's bytes and the trainer's starting
// weights are collected once the second step has started. Prints one JSON line.
// Node's collector is precise; Bun's scans the stack conservatively and may keep either one alive.

import { GraphBuilder } from "../../src/onnx/builder.ts";
import { decodeModel, encodeModel } from "../../src/onnx/model_codec.ts";
import { meanSquaredError } from "../../src/train/losses.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { mulberry32 } from "../../src/util/random.ts";

const rand = mulberry32(6);
const batch = () => ({
  x: { type: "float32" as const, data: Float32Array.from({ length: 16 * 4 }, () => rand() * 2 - 1), dims: [16, 4] },
  target: { type: "float32" as const, data: Float32Array.from({ length: 16 }, () => rand()), dims: [16, 1] },
});

// In a function of its own, so that nothing on this module's stack still reaches the bytes.
async function setUp(stepsPerRun: number) {
  const g = new GraphBuilder("wide");
  const x = g.input("x", "float32", ["B", 4]);
  const w1 = g.initializer("w1", "float32", Float32Array.from({ length: 4 * 8192 }, () => (rand() * 2 - 1) * 0.05), [4, 8192]);
  const w2 = g.initializer("w2", "float32", Float32Array.from({ length: 8192 }, () => (rand() * 2 - 1) * 0.05), [8192, 1]);
  g.output(g.op1("MatMul", [g.op1("Relu", [g.op1("MatMul", [x, w1])]), w2]), "y", "float32", ["B", 1]);
  const bytes = encodeModel(g.model());
  const trainer = await Trainer.create(
    { model: decodeModel(bytes), optimizer: { kind: "sgd" }, loss: (t, outs, input) => meanSquaredError(t, outs.y!, input("target", "float32", ["B", 1])) },
    { stepsPerRun },
  );
  const starting = (trainer as unknown as { values: Record<string, { data: Float32Array }> }).values.w1!.data;
  return { trainer, file: new WeakRef(bytes.buffer), starting: new WeakRef(starting) };
}

const result: Record<string, { file: boolean; starting: boolean }> = {};
for (const stepsPerRun of [1, 4]) {
  const { trainer, file, starting } = await setUp(stepsPerRun);
  await trainer.trainStep(batch(), 0.01);
  await trainer.trainStep(batch(), 0.01);
  result[`stepsPerRun ${stepsPerRun}`] = { file: file.deref() === undefined, starting: starting.deref() === undefined };
  trainer.release();
}
console.log(JSON.stringify(result));
