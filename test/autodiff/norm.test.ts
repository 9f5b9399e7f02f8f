// Gradient rules of the normalizations, against central differences.
import { describe, expect, test } from "bun:test";
import { float } from "../../src/onnx/builder.ts";
import { checkGradient, type CheckInput } from "../support/grad_check.ts";

const x = (shape: number[], name = "x", lo = -1, hi = 1): CheckInput => ({ name, shape, lo, hi });

describe("normalization gradient rules", () => {
  test("InstanceNormalization", async () => {
    const r = await checkGradient((g, v) => [g.op1("InstanceNormalization", [v.x!, v.s!, v.b!], { epsilon: float(1e-5) })], [x([2, 3, 4, 5]), x([3], "s"), x([3], "b")], { dtype: "float32", h: 1e-2, abs: 2e-3, rel: 1e-2, samples: 12 });
    expect(r.report).toEqual([]);
  });
  test("GroupNorm as torch exports it: Reshape → InstanceNormalization → Reshape → Mul γ → Add β", async () => {
    const r = await checkGradient(
      (g, v) => {
        const grouped = g.op1("Reshape", [v.x!, g.ints([0, 2, -1])]);
        const ones = g.constant("float32", [1, 1], [2]);
        const zeros = g.constant("float32", [0, 0], [2]);
        const normed = g.op1("Reshape", [g.op1("InstanceNormalization", [grouped, ones, zeros], { epsilon: float(1e-5) }), g.op1("Shape", [v.x!])]);
        return [g.op1("Add", [g.op1("Mul", [normed, v.gamma!]), v.beta!])];
      },
      [x([2, 4, 3, 3]), x([4, 1, 1], "gamma"), x([4, 1, 1], "beta")],
      { dtype: "float32", h: 1e-2, abs: 2e-3, rel: 1e-2, samples: 12 },
    );
    expect(r.report).toEqual([]);
  });
  test("BatchNormalization, inference form", async () => {
    const r = await checkGradient(
      (g, v) => [g.op1("BatchNormalization", [v.x!, v.s!, v.b!, g.constant("float32", [0.1, -0.2, 0.3], [3]), g.constant("float32", [0.5, 1.5, 2], [3])], { epsilon: float(1e-5) })],
      [x([2, 3, 4, 4]), x([3], "s"), x([3], "b")],
      { dtype: "float32", h: 0.1, abs: 1e-3, rel: 1e-3, samples: 12 },
    );
    expect(r.report).toEqual([]);
  });
  test("BatchNormalization, training form (batch statistics)", async () => {
    const r = await checkGradient(
      (g, v) => [g.op("BatchNormalization", [v.x!, v.s!, v.b!, g.constant("float32", [0, 0, 0], [3]), g.constant("float32", [1, 1, 1], [3])], { epsilon: float(1e-5), training_mode: 1 }, { outputs: 3 })[0]!],
      [x([2, 3, 4, 4]), x([3], "s"), x([3], "b")],
      { dtype: "float32", h: 1e-2, abs: 2e-3, rel: 1e-2, samples: 12 },
    );
    expect(r.report).toEqual([]);
  });
});
