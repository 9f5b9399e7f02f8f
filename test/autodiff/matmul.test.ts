// The gradient rules of MatMul (Einsum, any batch rank) and Gemm, against central differences.
import { describe, expect, test } from "bun:test";
import { float } from "../../src/onnx/builder.ts";
import { checkGradient, type CheckInput, type GradientCase, gradientCaseTests } from "../support/grad_check.ts";

type Case = GradientCase;
const x = (shape: number[], name = "a"): CheckInput => ({ name, shape });

const cases: Case[] = [
  ["MatMul batched", (g, v) => [g.op1("MatMul", [v.a!, v.b!])], [x([2, 3, 4]), x([4, 5], "b")]],
  ["MatMul broadcast batch", (g, v) => [g.op1("MatMul", [v.a!, v.b!])], [x([3, 4]), x([2, 4, 5], "b")]],
  ["Gemm transA transB with C", (g, v) => [g.op1("Gemm", [v.a!, v.b!, v.c!], { transA: 1, transB: 1, alpha: float(0.7), beta: float(1.3) })], [x([4, 3]), x([5, 4], "b"), x([5], "c")]],
  ["Gemm plain", (g, v) => [g.op1("Gemm", [v.a!, v.b!, v.c!])], [x([3, 4]), x([4, 5], "b"), x([3, 5], "c")]],
];

describe("MatMul and Gemm gradient rules", () => {
  gradientCaseTests(cases);
});
