// Gradients of reductions and global pooling: broadcast the output gradient back over the reduced
// axes (the kept-dims shape comes from the same reduction with keepdims = 1).

import type { Value } from "../../onnx/builder.ts";
import type { GradContext, GradRule } from "../rule.ts";

function keptShape(ctx: GradContext): Value {
  const t = ctx.t;
  const n = ctx.node;
  const axesAttr = ctx.attr("axes");
  const attrs: Record<string, number | number[]> = { keepdims: 1 };
  if (axesAttr) attrs.axes = axesAttr.ints.map(Number);
  const noop = ctx.attr("noop_with_empty_axes");
  if (noop) attrs.noop_with_empty_axes = Number(noop.i);
  return t.shape(ctx.e.op1(n.opType, n.input.filter((x) => x !== ""), attrs, { dtype: ctx.input(0).dtype }));
}

function spread(ctx: GradContext, g: Value): Value {
  const t = ctx.t;
  return t.e.op1("Expand", [t.reshape(g, keptShape(ctx)), t.shape(ctx.input(0))], {}, { dtype: g.dtype });
}

/** Elements averaged per output element, as a scalar of g's dtype. */
function count(ctx: GradContext, g: Value, outShape: Value): Value {
  const t = ctx.t;
  const size = (s: Value) => t.e.op1("ReduceProd", [s], { keepdims: 0 }, { dtype: "int64" });
  return t.cast(t.div(size(t.shape(ctx.input(0))), size(outShape)), g.dtype ?? "float32");
}

export const reduceRules: Record<string, GradRule> = {
  ReduceSum: (ctx, [g]) => [spread(ctx, g!)],
  ReduceMean: (ctx, [g]) => [ctx.t.div(spread(ctx, g!), count(ctx, g!, keptShape(ctx)))],
  GlobalAveragePool: (ctx, [g]) => {
    const t = ctx.t;
    const expanded = t.e.op1("Expand", [g!, t.shape(ctx.input(0))], {}, { dtype: g!.dtype });
    return [t.div(expanded, count(ctx, g!, t.shape(ctx.output(0))))];
  },
};
