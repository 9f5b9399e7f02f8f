// Gradients of pooling and Resize, without MaxUnpool or Col2Im (both CPU-only on the WebGPU EP):
// MaxPool scatter-adds the output gradient through the source index of each output element;
// AveragePool spreads it back with a ConvTranspose of a constant kernel; 4-D Resize (linear, cubic,
// nearest) applies the transpose of its per-axis interpolation matrices, themselves obtained by
// resizing an identity; nearest Resize of unknown rank scatter-adds like MaxPool.

import { type DTypeName, tensorProto, type Value } from "../../onnx/builder.ts";
import type { TensorOps } from "../../onnx/tensor_ops.ts";
import { GradientError, type GradContext, type GradRule } from "../rule.ts";
import { cutTo } from "../spatial.ts";

function size(t: TensorOps, x: Value): Value {
  return t.e.op1("ReduceProd", [t.shape(x)], { keepdims: 1 }, { dtype: "int64" });
}

/** dX = scatter-add of dY at flat source indices `source` (shaped like dY). */
function scatterAdd(t: TensorOps, x: Value, source: Value, dy: Value): Value {
  const zeros = t.zeros(size(t, x), dy.dtype ?? "float32");
  const flat = t.e.op1("ScatterND", [zeros, t.unsqueeze(t.reshape(source, [-1]), [1]), t.reshape(dy, [-1])], { reduction: "add" }, { dtype: dy.dtype });
  return t.reshape(flat, t.shape(x));
}

function poolAttrs(ctx: GradContext): Record<string, number | number[]> {
  const out: Record<string, number | number[]> = {};
  for (const a of ctx.node.attribute) {
    if (a.ints.length) out[a.name] = a.ints.map(Number);
    else if (a.name !== "auto_pad") out[a.name] = Number(a.i);
  }
  return out;
}

export const poolResizeRules: Record<string, GradRule> = {
  MaxPool: (ctx, [dy]) => {
    const t = ctx.t;
    if (ctx.string("auto_pad", "NOTSET") !== "NOTSET") throw new GradientError(`MaxPool node "${ctx.node.name}": auto_pad has no gradient rule yet; export with explicit pads`);
    if (ctx.int("storage_order", 0) !== 0) throw new GradientError(`MaxPool node "${ctx.node.name}": storage_order=1 has no gradient rule`);
    // The Indices output (flat over the whole tensor) of the same pooling, recomputed when unused.
    // The recomputation spells out a default the forward leaves implicit (one onnxruntime does not
    // fill in at load, as it does storage_order): an identical node would be merged with the
    // forward's by onnxruntime, which then cannot remove it (its indices are read) and reports a
    // change in every optimizer round (all 10 rounds of the session build); making the forward emit
    // the indices instead cost R18-FPN FCOS 30-50 MB of peak memory.
    const attrs = poolAttrs(ctx);
    const n = ctx.ints("kernel_shape", []).length;
    if (!("dilations" in attrs)) attrs.dilations = Array(n).fill(1);
    else if (!("strides" in attrs)) attrs.strides = Array(n).fill(1);
    else if (!("pads" in attrs)) attrs.pads = Array(2 * n).fill(0);
    const indices = ctx.node.output[1] ? { name: ctx.node.output[1], dtype: "int64" as const } : t.e.op("MaxPool", [ctx.input(0)], attrs, { outputs: 2 })[1]!;
    return [scatterAdd(t, ctx.input(0), indices, dy!)];
  },
  AveragePool: (ctx, [dy]) => {
    const t = ctx.t;
    if (ctx.string("auto_pad", "NOTSET") !== "NOTSET") throw new GradientError(`AveragePool node "${ctx.node.name}": auto_pad has no gradient rule yet; export with explicit pads`);
    if (ctx.int("ceil_mode", 0) !== 0) throw new GradientError(`AveragePool node "${ctx.node.name}": ceil_mode=1 has no gradient rule yet`);
    const x = ctx.input(0);
    const kernel = ctx.ints("kernel_shape", []);
    const n = kernel.length;
    const strides = ctx.ints("strides", Array(n).fill(1));
    const pads = ctx.ints("pads", Array(2 * n).fill(0));
    const dtype = x.dtype ?? "float32";
    // Divisor per output element: the window size, or its in-bounds part (count_include_pad = 0).
    const ones = t.e.op1("ConstantOfShape", [t.shape(x)], { value: { kind: "tensor", value: oneTensor(dtype) } }, { dtype });
    const attrs = { kernel_shape: kernel, strides, pads, count_include_pad: 1 };
    const k = kernel.reduce((a, b) => a * b, 1);
    const divisor = ctx.int("count_include_pad", 0) === 1 ? t.scalar(dtype, k) : t.mul(t.e.op1("AveragePool", [ones], attrs, { dtype }), t.scalar(dtype, k));
    const scaled = t.div(dy!, divisor);
    // Spread each output's share over its window: a ConvTranspose with a kernel of ones, channels
    // folded into the batch so no group count is needed at build time.
    const nc = t.e.op1("ReduceProd", [t.slice(t.shape(scaled), t.e.ints([0]), t.e.ints([2]))], { keepdims: 1 }, { dtype: "int64" });
    const folded = t.reshape(scaled, t.concat([nc, t.e.ints([1]), t.slice(t.shape(scaled), t.e.ints([2]), t.e.ints([2 + n]))]));
    const w = t.e.constant(dtype, Array(k).fill(1), [1, 1, ...kernel]);
    const zeros = Array(n).fill(0);
    const full = t.e.op1("ConvTranspose", [folded, w], { strides, pads: [...zeros, ...zeros] }, { dtype });
    const likeFolded = t.reshape(x, t.concat([nc, t.e.ints([1]), t.slice(t.shape(x), t.e.ints([2]), t.e.ints([2 + n]))]));
    return [t.reshape(cutTo(t, full, likeFolded, pads.slice(0, n)), t.shape(x))];
  },
  Resize: (ctx, [dy]) => {
    const t = ctx.t;
    const mode = ctx.string("mode", "nearest");
    const x = ctx.input(0);
    const others = ctx.node.input.slice(1);
    if (mode === "nearest" && ctx.rank(0) === 4 && ctx.int("antialias", 0) === 0) {
      // Separable like linear: the transposed one-hot matrices of each axis, two small products —
      // a scatter-add through every output element costs onnxruntime ~30 ns per element.
      return [separableResizeGrad(ctx, dy!)];
    }
    if (mode === "nearest") {
      // Resize an index map with the same settings: each output element learns its source.
      const idx = t.reshape(t.cast(t.range(size(t, x)), "float32"), t.shape(x));
      const attrs = resizeAttrs(ctx);
      const source = t.cast(t.e.op1("Resize", [idx, ...others], attrs, { dtype: "float32" }), "int64");
      return [scatterAdd(t, x, source, dy!)];
    }
    if ((mode === "linear" || mode === "cubic") && ctx.int("antialias", 0) === 0) return [separableResizeGrad(ctx, dy!)];
    throw new GradientError(`Resize node "${ctx.node.name}": mode=${mode}${ctx.int("antialias", 0) ? " with antialias" : ""} has no gradient rule yet`);
  },
};

/**
 * Linear, cubic and nearest Resize of [N, C, H, W] are separable: Y = A_H · X · A_Wᵀ per (n, c). Resizing
 * an identity with the node's own settings along one axis yields that axis's matrix, so
 * dX = A_Hᵀ · dY · A_W comes out exactly, whatever the coordinate transformation.
 */
function separableResizeGrad(ctx: GradContext, dy: Value): Value {
  const t = ctx.t;
  const x = ctx.input(0);
  const [roi, scales, sizes] = [ctx.node.input[1] ?? "", ctx.node.input[2] ?? "", ctx.node.input[3] ?? ""];
  if (roi && ctx.string("coordinate_transformation_mode", "half_pixel") === "tf_crop_and_resize") {
    throw new GradientError(`Resize node "${ctx.node.name}": tf_crop_and_resize has no gradient rule yet`);
  }
  const dtype = x.dtype ?? "float32";
  const attrs = resizeAttrs(ctx);
  const shape = t.shape(x);
  const dimOf = (v: Value, i: number) => t.gather(v, t.e.ints([i]));
  // The matrix for spatial axis `axis` (2 = H, 3 = W), transposed: [in, out].
  const axisMatrixT = (axis: number): Value => {
    const n = dimOf(shape, axis);
    const eye = t.e.op1("EyeLike", [t.e.op1("ConstantOfShape", [t.concat([n, n])], { value: { kind: "tensor", value: tensorProto("z", dtype, [0], [1]) } }, { dtype })], {}, { dtype });
    const one = t.e.ints([1]);
    const basisShape = axis === 2 ? t.concat([n, one, n, one]) : t.concat([n, one, one, n]);
    const basis = t.reshape(eye, basisShape);
    let resized: Value;
    if (sizes) {
      const out = dimOf({ name: sizes, dtype: "int64" }, axis);
      const sz = axis === 2 ? t.concat([n, one, out, one]) : t.concat([n, one, one, out]);
      resized = t.e.op1("Resize", [basis, "", "", sz], attrs, { dtype });
    } else {
      const s = dimOf({ name: scales, dtype: "float32" }, axis);
      const f1 = t.e.constant("float32", [1], [1]);
      const sc = axis === 2 ? t.concat([f1, f1, s, f1]) : t.concat([f1, f1, f1, s]);
      resized = t.e.op1("Resize", [basis, "", sc], attrs, { dtype });
    }
    return t.reshape(resized, t.concat([n, t.e.ints([-1])]));
  };
  const ahT = axisMatrixT(2);
  const awT = axisMatrixT(3);
  return t.e.op1("Einsum", [ahT, dy, awT], { equation: "ho,ncop,wp->nchw" }, { dtype });
}

function resizeAttrs(ctx: GradContext): Record<string, number | string | number[]> {
  const out: Record<string, number | string | number[]> = {};
  for (const a of ctx.node.attribute) {
    if (a.s.length) out[a.name] = new TextDecoder().decode(a.s);
    else if (a.ints.length) out[a.name] = a.ints.map(Number);
    else if (a.name === "cubic_coeff_a" || a.name === "extrapolation_value") out[a.name] = a.f as never;
    else out[a.name] = Number(a.i);
  }
  return out;
}

function oneTensor(dtype: DTypeName) {
  return tensorProto("one", dtype, [1], [1]);
}
