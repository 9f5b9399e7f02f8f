// Gradient rules of elementwise ops and activations, against central differences (float64).
import { describe, expect, test } from "bun:test";
import { float } from "../../src/onnx/builder.ts";
import { checkGradient, type CheckInput, type GradientCase, gradientCaseTests } from "../support/grad_check.ts";

type Case = GradientCase;

const a234: CheckInput = { name: "a", shape: [2, 3, 4] };
const b31: CheckInput = { name: "b", shape: [3, 1] };
const pos = (name: string, shape: number[]): CheckInput => ({ name, shape, lo: 0.5, hi: 2 });
const unary = (op: string, attrs = {}): Parameters<typeof checkGradient>[0] => (g, v) => [g.op1(op, [v.a!], attrs)];

const cases: Case[] = [
  ["Add (broadcast)", (g, v) => [g.op1("Add", [v.a!, v.b!])], [a234, b31]],
  ["Sub (broadcast)", (g, v) => [g.op1("Sub", [v.b!, v.a!])], [a234, b31]],
  ["Mul (broadcast)", (g, v) => [g.op1("Mul", [v.a!, v.b!])], [a234, b31]],
  ["Div (broadcast)", (g, v) => [g.op1("Div", [v.a!, v.b!])], [a234, pos("b", [3, 1])]],
  ["Neg", unary("Neg"), [a234]],
  ["Pow (both)", (g, v) => [g.op1("Pow", [v.a!, v.b!])], [pos("a", [2, 3]), { name: "b", shape: [3] }]],
  ["Exp", unary("Exp"), [a234]],
  ["Abs", unary("Abs"), [a234]],
  ["Max (broadcast)", (g, v) => [g.op1("Max", [v.a!, v.b!])], [a234, b31]],
  ["Min (broadcast)", (g, v) => [g.op1("Min", [v.a!, v.b!])], [a234, b31]],
  ["Log", unary("Log"), [pos("a", [2, 3])]],
  ["Sqrt", unary("Sqrt"), [pos("a", [2, 3])]],
  ["Relu", unary("Relu"), [a234]],
  ["LeakyRelu", unary("LeakyRelu", { alpha: float(0.1) }), [a234]],
  ["Sigmoid", unary("Sigmoid"), [a234]],
  ["Tanh", unary("Tanh"), [a234]],
  ["Clip", (g, v) => [g.op1("Clip", [v.a!, g.scalar("float64", -0.5), g.scalar("float64", 0.6)])], [a234]],
  ["Identity", unary("Identity"), [a234]],
  ["Cast to float32 and back", (g, v) => [g.op1("Cast", [g.op1("Cast", [v.a!], { to: 1 })], { to: 11 })], [a234], { h: 1e-2, abs: 1e-5, rel: 1e-4 }],
  ["Where", (g, v) => [g.op1("Where", [g.op1("Greater", [v.a!, g.scalar("float64", 0)]), v.a!, v.b!])], [a234, b31]],
  ["Softmax", unary("Softmax", { axis: 1 }), [a234]],
  ["LogSoftmax", unary("LogSoftmax", { axis: -1 }), [a234]],
];

describe("elementwise gradient rules", () => {
  gradientCaseTests(cases);
  // onnxruntime's CPU kernels for these exist only in float32.
  test("HardSigmoid, HardSwish (float32)", async () => {
    for (const op of ["HardSigmoid", "HardSwish"]) {
      const r = await checkGradient(unary(op), [{ name: "a", shape: [40], lo: -5, hi: 5 }], { dtype: "float32", samples: 40, h: 1e-3 });
      expect(r.report).toEqual([]);
    }
  });
});
