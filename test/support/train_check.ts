// Overfits the tiny MLP of test/train on the execution provider named on the command line and
// prints the first and last loss as JSON (used to check WebGPU in Deno).
import process from "node:process";
import { GraphBuilder } from "../../src/onnx/builder.ts";
import { meanSquaredError } from "../../src/train/losses.ts";
import { Trainer } from "../../src/train/trainer.ts";
import type { ExecutionProvider } from "../../src/runtime/session.ts";
import { mulberry32 } from "../../src/util/random.ts";

const ep = (process.argv[2] ?? "cpu") as ExecutionProvider;
const rand = mulberry32(1);
const r = (n: number, s: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * s);
const g = new GraphBuilder("mlp");
const x = g.input("x", "float32", [16, 4]);
const h = g.op1("Relu", [g.op1("Add", [g.op1("MatMul", [x, g.initializer("w1", "float32", r(32, 0.5), [4, 8])]), g.initializer("b1", "float32", r(8, 0.1), [8])])]);
g.output(g.op1("Add", [g.op1("MatMul", [h, g.initializer("w2", "float32", r(8, 0.5), [8, 1])]), g.initializer("b2", "float32", r(1, 0.1), [1])]), "y", "float32", [16, 1]);
const trainer = await Trainer.create(
  { model: g.model(), optimizer: { kind: "adamw" }, loss: (t, out, input) => meanSquaredError(t, out.y!, input("target", "float32", [16, 1])) },
  { executionProvider: ep },
);
const xs = Float32Array.from({ length: 64 }, () => rand() * 2 - 1);
const ys = Float32Array.from({ length: 16 }, (_, i) => Math.sin(xs[4 * i]! * 2) + 0.5 * xs[4 * i + 1]!);
const losses: number[] = [];
for (let i = 0; i < 150; i++) losses.push(await trainer.trainStep({ x: { type: "float32", data: xs, dims: [16, 4] }, target: { type: "float32", data: ys, dims: [16, 1] } }, 0.02));
console.log(JSON.stringify({ ep, first: losses[0], last: losses.at(-1) }));
