// Gradient rules of Conv, ConvTranspose, pooling and Resize, against central differences.
import { describe, expect, test } from "bun:test";
import { checkGradient, type CheckInput, type GradientCase, gradientCaseTests } from "../support/grad_check.ts";

type Case = GradientCase;
const x = (shape: number[], name = "x"): CheckInput => ({ name, shape });

const conv = (attrs: Record<string, number | number[]>, bias = true): Parameters<typeof checkGradient>[0] => (g, v) => [g.op1("Conv", bias ? [v.x!, v.w!, v.b!] : [v.x!, v.w!], attrs)];

const cases: Case[] = [
  ["Conv 3×3 pad 1", conv({ kernel_shape: [3, 3], pads: [1, 1, 1, 1] }), [x([2, 3, 5, 6]), x([4, 3, 3, 3], "w"), x([4], "b")]],
  ["Conv stride 2, odd size (dropped rows)", conv({ kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }), [x([1, 2, 7, 6]), x([3, 2, 3, 3], "w"), x([3], "b")]],
  ["Conv dilation 2, asymmetric pads", conv({ kernel_shape: [3, 2], dilations: [2, 1], pads: [2, 0, 1, 1] }, false), [x([1, 2, 7, 5]), x([2, 2, 3, 2], "w")]],
  ["Conv group 2", conv({ kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 2 }), [x([2, 4, 5, 5]), x([6, 2, 3, 3], "w"), x([6], "b")]],
  ["Conv depthwise stride 2", conv({ kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2], group: 3 }), [x([1, 3, 6, 6]), x([3, 1, 3, 3], "w"), x([3], "b")]],
  ["Conv group 2, weight dims unknown before running (regrouped-Conv path)", conv({ kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], group: 2 }), [x([2, 4, 5, 5]), { name: "w", shape: [6, 2, 3, 3], symbolic: true }, x([6], "b")]],
  ["Conv 3×3 stride 1, dims unknown before running (shifts sized at run time)", conv({ kernel_shape: [3, 3], pads: [1, 0, 1, 2] }), [{ name: "x", shape: [2, 3, 5, 6], symbolic: true }, x([4, 3, 3, 3], "w"), x([4], "b")]],
  ["Conv 3×3 pad 2 (output larger than input)", conv({ kernel_shape: [3, 3], pads: [2, 2, 2, 2] }, false), [x([1, 2, 4, 3]), x([3, 2, 3, 3], "w")]],
  ["Conv 1×1 (no unfolding)", conv({ kernel_shape: [1, 1] }), [x([2, 3, 4, 5]), x([4, 3, 1, 1], "w"), x([4], "b")]],
  ["Conv 1×1 stride 2 (ResNet downsample)", conv({ kernel_shape: [1, 1], strides: [2, 2] }, false), [x([2, 3, 5, 6]), x([4, 3, 1, 1], "w")]],
  ["Conv 3-D", conv({ kernel_shape: [2, 3, 2], pads: [1, 1, 0, 0, 1, 1] }), [x([1, 2, 3, 4, 3]), x([2, 2, 2, 3, 2], "w"), x([2], "b")]],
  ["Conv 1-D", conv({ kernel_shape: [3], strides: [2] }), [x([2, 3, 9]), x([2, 3, 3], "w"), x([2], "b")]],
  ["ConvTranspose stride 2, output_padding", (g, v) => [g.op1("ConvTranspose", [v.x!, v.w!, v.b!], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] })], [x([1, 4, 3, 4]), x([4, 2, 3, 3], "w"), x([2], "b")]],
  ["ConvTranspose group 2", (g, v) => [g.op1("ConvTranspose", [v.x!, v.w!], { kernel_shape: [2, 2], strides: [2, 2], group: 2 })], [x([1, 4, 3, 3]), x([4, 1, 2, 2], "w")]],
  ["AveragePool 3×3 stride 2 pad 1 (exclude pad)", (g, v) => [g.op1("AveragePool", [v.x!], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })], [x([2, 3, 7, 6])], { dtype: "float32", h: 1e-2 }],
  ["AveragePool 2×2 (include pad)", (g, v) => [g.op1("AveragePool", [v.x!], { kernel_shape: [2, 2], strides: [2, 2], count_include_pad: 1, pads: [0, 0, 1, 1] })], [x([1, 2, 5, 5])], { dtype: "float32", h: 1e-2 }],
  ["MaxPool 3×3 stride 2 pad 1", (g, v) => [g.op1("MaxPool", [v.x!], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })], [x([2, 3, 7, 6])], { dtype: "float32", h: 1e-3 }],
  ["Resize nearest ×2 (scales)", (g, v) => [g.op1("Resize", [v.x!, "", g.constant("float32", [1, 1, 2, 2], [4])], { mode: "nearest" })], [x([1, 2, 3, 4])], { dtype: "float32", h: 1e-2 }],
  ["Resize nearest to sizes (FPN style)", (g, v) => [g.op1("Resize", [v.x!, "", "", g.ints([1, 2, 5, 7])], { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" })], [x([1, 2, 3, 4])], { dtype: "float32", h: 1e-2 }],
  // A Reshape's output rank is not tracked before running: the scatter-add path.
  ["Resize nearest, rank unknown before running (scatter-add path)", (g, v) => [g.op1("Resize", [g.op1("Reshape", [v.x!, g.ints([1, 2, 3, 2])]), "", g.constant("float32", [1, 1, 2, 3], [4])], { mode: "nearest" })], [x([2, 3, 2])], { dtype: "float32", h: 1e-2 }],
  ["Resize nearest half_pixel round_prefer_ceil ×3 (separable path)", (g, v) => [g.op1("Resize", [v.x!, "", g.constant("float32", [1, 1, 3, 1.5], [4])], { mode: "nearest", nearest_mode: "round_prefer_ceil" })], [x([2, 1, 3, 4])], { dtype: "float32", h: 1e-2 }],
  ["Resize linear ×2 (half_pixel)", (g, v) => [g.op1("Resize", [v.x!, "", g.constant("float32", [1, 1, 2, 2], [4])], { mode: "linear" })], [x([1, 2, 3, 4])]],
  ["Resize linear to sizes (align_corners)", (g, v) => [g.op1("Resize", [v.x!, "", "", g.ints([2, 2, 5, 7])], { mode: "linear", coordinate_transformation_mode: "align_corners" })], [x([2, 2, 3, 4])]],
  ["Resize cubic ×2", (g, v) => [g.op1("Resize", [v.x!, "", g.constant("float32", [1, 1, 2, 1.5], [4])], { mode: "cubic" })], [x([1, 1, 4, 4])]],
];

describe("convolution, pooling and resize gradient rules", () => {
  // onnxruntime's CPU convolutions exist only in float32; they are linear in each input, so a
  // large central-difference step is exact up to float32 rounding.
  gradientCaseTests(cases, { samples: 10, dtype: "float32", h: 0.1, abs: 1e-3, rel: 1e-3 });
});
