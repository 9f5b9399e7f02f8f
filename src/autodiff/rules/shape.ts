// Gradients of ops that move data without arithmetic: reshapes, transposes, concatenation,
// splitting, slicing, gathering. Slice and Gather scatter back through a tensor of flat indices,
// which handles steps, negative indices and repeated indices alike.

import type { Value } from "../../onnx/builder.ts";
import type { TensorOps } from "../../onnx/tensor_ops.ts";
import { sumToShapeOf } from "../broadcast.ts";
import type { GradContext, GradRule } from "../rule.ts";

/** Flat index of every element of x, shaped like x (int64). */
function flatIndices(t: TensorOps, x: Value): Value {
  const shape = t.shape(x);
  const size = t.e.op1("ReduceProd", [shape], { keepdims: 1 }, { dtype: "int64" });
  return t.reshape(t.range(size), shape);
}

/** Scatter g (laid out like `selected`, flat indices into x) into zeros shaped like x, adding repeats. */
function scatterBack(ctx: GradContext, x: Value, selected: Value, g: Value, accumulate: boolean): Value {
  const t = ctx.t;
  const shape = t.shape(x);
  const size = t.e.op1("ReduceProd", [shape], { keepdims: 1 }, { dtype: "int64" });
  const zeros = t.zeros(size, g.dtype ?? "float32");
  const idx = t.unsqueeze(t.reshape(selected, [-1]), [1]);
  const flat = t.e.op1("ScatterND", [zeros, idx, t.reshape(g, [-1])], accumulate ? { reduction: "add" } : {}, { dtype: g.dtype });
  return t.reshape(flat, shape);
}

const reshapeBack: GradRule = (ctx, [g]) => [ctx.t.reshape(g!, ctx.staticDims(0) ?? ctx.t.shape(ctx.input(0)))];

export const shapeRules: Record<string, GradRule> = {
  Reshape: reshapeBack,
  Flatten: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,
  Expand: (ctx, [g]) => [sumToShapeOf(ctx.t, g!, ctx.input(0), ctx.outputDims(0), ctx.inputDims(0))],
  Transpose: (ctx, [g]) => {
    const perm = ctx.ints("perm", []);
    if (!perm.length) return [ctx.e.op1("Transpose", [g!], {}, { dtype: g!.dtype })];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [ctx.e.op1("Transpose", [g!], { perm: inverse }, { dtype: g!.dtype })];
  },
  Concat: (ctx, [g]) => {
    const t = ctx.t;
    const axis = ctx.int("axis", 0);
    const n = ctx.node.input.length;
    const sizes = t.concat(Array.from({ length: n }, (_, i) => t.gather(t.shape(ctx.input(i)), t.e.ints([axis]))));
    const parts = ctx.e.op("Split", [g!, sizes], { axis }, { outputs: n, dtype: g!.dtype });
    return parts.map((p, i) => (ctx.needs(i) ? p : undefined));
  },
  Split: (ctx, grads) => {
    const t = ctx.t;
    const axis = ctx.int("axis", 0);
    const pieces = ctx.node.output.map((_, i) => grads[i] ?? t.zeros(t.shape(ctx.output(i)), ctx.input(0).dtype ?? "float32"));
    return [t.concat(pieces, axis)];
  },
  Slice: (ctx, [g]) => {
    const x = ctx.input(0);
    const sliced = ctx.e.op1("Slice", [flatIndices(ctx.t, x), ...ctx.node.input.slice(1)], {}, { dtype: "int64" });
    return [scatterBack(ctx, x, sliced, g!, false)];
  },
  // Pad (constant, reflect, edge; negative pads crop): pad x's flat indices the same way, with −1
  // where a constant is written; each output element then names the input element it copies, and
  // the gradient adds back into it (reflect and edge copy some elements several times).
  Pad: (ctx, [g]) => {
    const t = ctx.t;
    const x = ctx.input(0);
    const inputs = [flatIndices(t, x), ctx.node.input[1]!, t.e.constant("int64", [-1], [], "pad_index_fill"), ...ctx.node.input.slice(3)];
    const mode = ctx.string("mode", "constant");
    const picked = ctx.e.op1("Pad", inputs, { mode }, { dtype: "int64" });
    const valid = t.greaterOrEqual(picked, t.e.constant("int64", [0], [], "zero_index"));
    const index = t.where(valid, picked, t.e.constant("int64", [0], [], "zero_index"));
    const gv = t.where(valid, g!, t.scalar(g!.dtype ?? "float32", 0));
    return [scatterBack(ctx, x, index, gv, true), undefined, undefined, undefined];
  },
  Gather: (ctx, [g]) => {
    const x = ctx.input(0);
    const picked = ctx.e.op1("Gather", [flatIndices(ctx.t, x), ctx.node.input[1]!], { axis: ctx.int("axis", 0) }, { dtype: "int64" });
    return [scatterBack(ctx, x, picked, g!, true), undefined];
  },
};
