// The gradient rules of reshapes, transposes, concatenation, splitting, slicing, gathering, Expand, and shared inputs, against central differences.
import { describe, expect, test } from "bun:test";
import { float } from "../../src/onnx/builder.ts";
import { checkGradient, type CheckInput, type GradientCase, gradientCaseTests } from "../support/grad_check.ts";

type Case = GradientCase;
const x = (shape: number[], name = "a"): CheckInput => ({ name, shape });

const cases: Case[] = [
  ["Reshape", (g, v) => [g.op1("Reshape", [v.a!, g.ints([4, -1])])], [x([2, 3, 4])]],
  ["Flatten", (g, v) => [g.op1("Flatten", [v.a!], { axis: 2 })], [x([2, 3, 4])]],
  ["Squeeze/Unsqueeze", (g, v) => [g.op1("Unsqueeze", [g.op1("Squeeze", [v.a!, g.ints([1])]), g.ints([0])])], [x([2, 1, 4])]],
  ["Transpose", (g, v) => [g.op1("Transpose", [v.a!], { perm: [2, 0, 1] })], [x([2, 3, 4])]],
  ["Transpose default", (g, v) => [g.op1("Transpose", [v.a!])], [x([2, 3, 4])]],
  ["Concat", (g, v) => [g.op1("Concat", [v.a!, v.b!, v.a!], { axis: 1 })], [x([2, 3]), x([2, 2], "b")]],
  ["Split", (g, v) => g.op("Split", [v.a!, g.ints([1, 3])], { axis: 1 }, { outputs: 2 }), [x([2, 4])]],
  ["Split, one output unused", (g, v) => [g.op("Split", [v.a!, g.ints([1, 3])], { axis: 1 }, { outputs: 2 })[1]!], [x([2, 4])]],
  ["Slice with steps and negatives", (g, v) => [g.op1("Slice", [v.a!, g.ints([-1, 0]), g.ints([-5, 4]), g.ints([1, 2]), g.ints([-2, 2])])], [x([2, 6, 4])]],
  ["Gather with repeats", (g, v) => [g.op1("Gather", [v.a!, g.ints([2, 0, 2, 1])], { axis: 1 })], [x([2, 3, 2])]],
  ["Pad constant (ceil_mode-style one-sided)", (g, v) => [g.op1("Pad", [v.a!, g.ints([0, 0, 0, 1, 0, 0, 1, 2])], { mode: "constant" })], [x([2, 3, 4, 2])]],
  ["Pad constant with value, negative pads crop", (g, v) => [g.op1("Pad", [v.a!, g.ints([1, -1, 2, 0]), g.scalar("float64", 0.5)])], [x([3, 4])]],
  ["Pad reflect", (g, v) => [g.op1("Pad", [v.a!, g.ints([0, 0, 2, 1, 0, 0, 1, 2])], { mode: "reflect" })], [x([1, 2, 4, 4])]],
  ["Pad edge", (g, v) => [g.op1("Pad", [v.a!, g.ints([0, 3, 0, 2])], { mode: "edge" })], [x([3, 3])]],
  ["Pad with axes (opset 18)", (g, v) => [g.op1("Pad", [v.a!, g.ints([1, 2]), g.scalar("float64", 0), g.ints([1])], { mode: "constant" })], [x([2, 3])], { opset: 18 }],
  ["Expand", (g, v) => [g.op1("Expand", [v.a!, g.ints([2, 3, 4])])], [x([3, 1])]],
  ["shared input used twice", (g, v) => [g.op1("Mul", [g.op1("Sigmoid", [v.a!]), g.op1("Tanh", [v.a!])])], [x([5])]],
];

describe("data-movement gradient rules", () => {
  gradientCaseTests(cases);
});
