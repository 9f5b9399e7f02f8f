// Gradients of elementwise ops (with numpy broadcasting) and activations.

import type { Value } from "../../onnx/builder.ts";
import { sumToShapeOf } from "../broadcast.ts";
import { GradientError, type GradContext, type GradRule } from "../rule.ts";

const c = (ctx: GradContext, v: number, like: Value) => ctx.t.scalar(like.dtype ?? "float32", v);

/** Reduce a broadcast gradient to input i's shape, only when input i needs a gradient. */
function toInput(ctx: GradContext, i: number, g: Value): Value | undefined {
  // g has the output's shape (the inputs broadcast together).
  return ctx.needs(i) ? sumToShapeOf(ctx.t, g, ctx.input(i), ctx.outputDims(0), ctx.inputDims(i)) : undefined;
}

/** Two-input Max/Min: the gradient goes to the chosen input; ties split it evenly (as PyTorch). */
function extremumGrad(ctx: GradContext, g: Value, wins: "Greater" | "Less"): (Value | undefined)[] {
  if (ctx.node.input.length !== 2) throw new GradientError(`${ctx.node.opType} node "${ctx.node.name}": only the two-input form has a gradient rule`);
  const t = ctx.t;
  const [a, b] = [ctx.input(0), ctx.input(1)];
  const half = c(ctx, 0.5, g);
  const share = (first: Value, second: Value) =>
    t.where(t.e.op1(wins, [first, second], {}, { dtype: "bool" }), g, t.where(t.equal(first, second), t.mul(g, half), c(ctx, 0, g)));
  return [ctx.needs(0) ? toInput(ctx, 0, share(a, b)) : undefined, ctx.needs(1) ? toInput(ctx, 1, share(b, a)) : undefined];
}

export const elementwiseRules: Record<string, GradRule> = {
  Add: (ctx, [g]) => [toInput(ctx, 0, g!), toInput(ctx, 1, g!)],
  Sub: (ctx, [g]) => [toInput(ctx, 0, g!), ctx.needs(1) ? toInput(ctx, 1, ctx.t.neg(g!)) : undefined],
  Mul: (ctx, [g]) => [
    ctx.needs(0) ? toInput(ctx, 0, ctx.t.mul(g!, ctx.input(1))) : undefined,
    ctx.needs(1) ? toInput(ctx, 1, ctx.t.mul(g!, ctx.input(0))) : undefined,
  ],
  Div: (ctx, [g]) => [
    ctx.needs(0) ? toInput(ctx, 0, ctx.t.div(g!, ctx.input(1))) : undefined,
    // d(a/b)/db = −a/b² = −y/b
    ctx.needs(1) ? toInput(ctx, 1, ctx.t.neg(ctx.t.div(ctx.t.mul(g!, ctx.output(0)), ctx.input(1)))) : undefined,
  ],
  Neg: (ctx, [g]) => [ctx.t.neg(g!)],
  Abs: (ctx, [g]) => {
    // sign(x) without Sign (CPU-only on the WebGPU EP); the subgradient at 0 is 0.
    const t = ctx.t;
    const x = ctx.input(0);
    const sign = t.where(t.greater(x, c(ctx, 0, x)), c(ctx, 1, x), t.where(t.less(x, c(ctx, 0, x)), c(ctx, -1, x), c(ctx, 0, x)));
    return [t.mul(g!, sign)];
  },
  Max: (ctx, grads) => extremumGrad(ctx, grads[0]!, "Greater"),
  Min: (ctx, grads) => extremumGrad(ctx, grads[0]!, "Less"),
  Pow: (ctx, [g]) => {
    const t = ctx.t;
    const [a, b, y] = [ctx.input(0), ctx.input(1), ctx.output(0)];
    const bb = b.dtype && b.dtype !== a.dtype ? t.cast(b, a.dtype ?? "float32") : b;
    return [
      ctx.needs(0) ? toInput(ctx, 0, t.mul(g!, t.mul(bb, t.e.op1("Pow", [a, t.sub(bb, c(ctx, 1, a))], {}, { dtype: a.dtype })))) : undefined,
      ctx.needs(1) ? toInput(ctx, 1, t.mul(g!, t.mul(y, t.e.op1("Log", [a], {}, { dtype: a.dtype })))) : undefined,
    ];
  },
  Exp: (ctx, [g]) => [ctx.t.mul(g!, ctx.output(0))],
  Log: (ctx, [g]) => [ctx.t.div(g!, ctx.input(0))],
  Sqrt: (ctx, [g]) => [ctx.t.div(ctx.t.mul(g!, c(ctx, 0.5, g!)), ctx.output(0))],
  Relu: (ctx, [g]) => {
    // y > 0 exactly where x > 0: reading the output, which the next layer keeps for its own
    // gradient anyway, lets the pre-activation be freed after the forward. (g · Cast(y > 0) runs
    // ~4× faster than this Where on onnxruntime's CPU, but its float masks cost R18-FPN FCOS 58 MB
    // more peak memory than these bool ones, for 1 % of its step: measured, not kept.)
    const y = ctx.output(0);
    return [ctx.t.where(ctx.t.greater(y, c(ctx, 0, y)), g!, c(ctx, 0, g!))];
  },
  LeakyRelu: (ctx, [g]) => {
    const x = ctx.input(0);
    const slope = ctx.float("alpha", 0.01);
    return [ctx.t.where(ctx.t.greater(x, c(ctx, 0, x)), g!, ctx.t.mul(g!, c(ctx, slope, g!)))];
  },
  Sigmoid: (ctx, [g]) => {
    const y = ctx.output(0);
    return [ctx.t.mul(g!, ctx.t.mul(y, ctx.t.sub(c(ctx, 1, y), y)))];
  },
  Tanh: (ctx, [g]) => {
    const y = ctx.output(0);
    return [ctx.t.mul(g!, ctx.t.sub(c(ctx, 1, y), ctx.t.mul(y, y)))];
  },
  Clip: (ctx, [g]) => {
    // Gradient passes where min ≤ x ≤ max (the bounds themselves get none).
    const t = ctx.t;
    const x = ctx.input(0);
    let pass: Value | undefined;
    const lo = ctx.node.input[1];
    const hi = ctx.node.input[2];
    if (lo) pass = t.greaterOrEqual(x, { name: lo, dtype: x.dtype });
    if (hi) {
      const below = t.lessOrEqual(x, { name: hi, dtype: x.dtype });
      pass = pass ? t.and(pass, below) : below;
    }
    return [pass ? t.where(pass, g!, c(ctx, 0, g!)) : g];
  },
  HardSigmoid: (ctx, [g]) => {
    const t = ctx.t;
    const x = ctx.input(0);
    const alpha = ctx.float("alpha", 0.2);
    const z = t.add(t.mul(x, c(ctx, alpha, x)), c(ctx, ctx.float("beta", 0.5), x));
    const inside = t.and(t.greater(z, c(ctx, 0, x)), t.less(z, c(ctx, 1, x)));
    return [t.where(inside, t.mul(g!, c(ctx, alpha, g!)), c(ctx, 0, g!))];
  },
  HardSwish: (ctx, [g]) => {
    // y = x·clip(x/6 + ½, 0, 1): dy/dx = 0 below −3, 1 above 3, (2x + 3)/6 between.
    const t = ctx.t;
    const x = ctx.input(0);
    const mid = t.add(t.mul(x, c(ctx, 1 / 3, x)), c(ctx, 0.5, x));
    const d = t.where(t.less(x, c(ctx, -3, x)), c(ctx, 0, x), t.where(t.greater(x, c(ctx, 3, x)), c(ctx, 1, x), mid));
    return [t.mul(g!, d)];
  },
  Identity: (_ctx, [g]) => [g],
  Cast: (ctx, [g]) => {
    const x = ctx.input(0);
    return [x.dtype && x.dtype !== g!.dtype ? ctx.t.cast(g!, x.dtype) : g];
  },
  Where: (ctx, [g]) => {
    const t = ctx.t;
    const cond = ctx.input(0);
    const zero = c(ctx, 0, g!);
    return [
      undefined,
      ctx.needs(1) ? toInput(ctx, 1, t.where(cond, g!, zero)) : undefined,
      ctx.needs(2) ? toInput(ctx, 2, t.where(cond, zero, g!)) : undefined,
    ];
  },
  Softmax: (ctx, [g]) => {
    const t = ctx.t;
    const y = ctx.output(0);
    const axis = ctx.int("axis", -1);
    const s = t.e.op1("ReduceSum", [t.mul(g!, y), t.e.ints([axis])], { keepdims: 1 }, { dtype: y.dtype });
    return [t.mul(y, t.sub(g!, s))];
  },
  LogSoftmax: (ctx, [g]) => {
    const t = ctx.t;
    const y = ctx.output(0);
    const axis = ctx.int("axis", -1);
    const s = t.e.op1("ReduceSum", [g!, t.e.ints([axis])], { keepdims: 1 }, { dtype: y.dtype });
    return [t.sub(g!, t.mul(t.e.op1("Exp", [y], {}, { dtype: y.dtype }), s))];
  },
};
