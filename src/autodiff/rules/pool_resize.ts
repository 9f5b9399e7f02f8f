// Gradients of pooling and Resize, without MaxUnpool or Col2Im (both CPU-only on the WebGPU EP):
// MaxPool and nearest Resize scatter-add the output gradient through the source index of each
// output element; AveragePool spreads it back with a ConvTranspose of a constant kernel; linear
// Resize applies the transpose of its per-axis interpolation matrices, themselves obtained by
// resizing an identity.

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
    const indices = ctx.node.output[1] ? { name: ctx.node.output[1], dtype: "int64" as const } : t.e.op("MaxPool", [ctx.input(0)], poolAttrs(ctx), { outputs: 2 })[1]!;
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
    if (mode === "nearest") {
      // Resize an index map with the same settings: each output element learns its source.
      const idx = t.reshape(t.cast(t.range(size(t, x)), "float32"), t.shape(x));
      const attrs = resizeAttrs(ctx);
      const source = t.cast(t.e.op1("Resize", [idx, ...others], attrs, { dtype: "float32" }), "int64");
      return [scatterAdd(t, x, source, dy!)];
    }
    throw new GradientError(`Resize node "${ctx.node.name}": mode=${mode} has no gradient rule yet (nearest is supported)`);
  },
};

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
