// The gradient rules of reductions and global pooling, against central differences.
import { describe, expect, test } from "bun:test";
import { float } from "../../src/onnx/builder.ts";
import { checkGradient, type CheckInput, type GradientCase, gradientCaseTests } from "../support/grad_check.ts";

type Case = GradientCase;
const x = (shape: number[], name = "a"): CheckInput => ({ name, shape });

const cases: Case[] = [
  ["ReduceSum keepdims 0", (g, v) => [g.op1("ReduceSum", [v.a!, g.ints([0, 2])], { keepdims: 0 })], [x([2, 3, 4])]],
  ["ReduceSum all", (g, v) => [g.op1("ReduceSum", [v.a!], { keepdims: 1 })], [x([2, 3])]],
  ["ReduceMean", (g, v) => [g.op1("ReduceMean", [v.a!], { axes: [1], keepdims: 0 })], [x([2, 3, 4])]],
  // onnxruntime's CPU GlobalAveragePool exists only in float32.
  ["GlobalAveragePool (float32)", (g, v) => [g.op1("GlobalAveragePool", [v.a!])], [x([2, 3, 4, 5])], { dtype: "float32", h: 1e-2 }],
];

describe("reduction gradient rules", () => {
  gradientCaseTests(cases);
});
