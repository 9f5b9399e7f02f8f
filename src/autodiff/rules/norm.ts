// Gradients of the normalizations: InstanceNormalization (also how torch exports GroupNorm),
// BatchNormalization in inference and training form, GroupNormalization (per-channel scale).
// With x̂ the normalized input and m the count per statistic:
//   dx = (γ/σ)·(dy − mean(dy) − x̂·mean(dy·x̂)),  dγ = Σ dy·x̂,  dβ = Σ dy.
// Running statistics are not trained: they get no gradient.

import { tensorProto, type Value } from "../../onnx/builder.ts";
import type { TensorOps } from "../../onnx/tensor_ops.ts";
import { GradientError, type GradContext, type GradRule } from "../rule.ts";

/** The axes [from, …, rank − 1]: constants when the rank is known before running, else computed. */
type Axes = { known: number[] } | { value: Value };

function axesFrom(t: TensorOps, x: Value, from: number, rank: number | undefined): Axes {
  if (rank !== undefined) return { known: Array.from({ length: Math.max(0, rank - from) }, (_, k) => from + k) };
  const r = t.shape(t.shape(x));
  return { value: t.e.op1("Range", [t.e.scalar("int64", from), t.reshape(r, []), t.e.scalar("int64", 1)], {}, { dtype: "int64" }) };
}

function withBatch(t: TensorOps, axes: Axes): Axes {
  return "known" in axes ? { known: [0, ...axes.known] } : { value: t.concat([t.e.ints([0]), axes.value]) };
}

/** [1, C, 1, …] shape for broadcasting a per-channel vector against x. */
function channelShape(t: TensorOps, x: Value, rank: number | undefined): Value | number[] {
  if (rank !== undefined) return [1, -1, ...Array(Math.max(0, rank - 2)).fill(1)];
  const r = t.shape(t.shape(x));
  const ones = t.e.op1("ConstantOfShape", [t.sub(r, t.e.ints([2]))], { value: { kind: "tensor", value: oneInt() } }, { dtype: "int64" });
  return t.concat([t.e.ints([1, -1]), ones]);
}

function sum(t: TensorOps, x: Value, axes: Axes, keepdims = 1): Value {
  return t.e.op1("ReduceSum", [x, "known" in axes ? t.e.ints(axes.known) : axes.value], { keepdims }, { dtype: x.dtype });
}

/**
 * Normalization backward over `axes` (kept dims): x̂ and the input gradient given dy·γ. With known
 * axes the means are ReduceMean nodes (one kernel each instead of a sum, a count and a division).
 */
function normalizedBackward(t: TensorOps, x: Value, axes: Axes, eps: number, dyScaled: Value): { xhat: Value; dx: Value } {
  const d = x.dtype ?? "float32";
  let mean: (v: Value) => Value;
  if ("known" in axes) {
    const known = axes.known;
    mean = (v) => t.reduceMean(v, known, 1);
  } else {
    const count = t.cast(
      t.div(t.e.op1("ReduceProd", [t.shape(x)], { keepdims: 0 }, { dtype: "int64" }), t.e.op1("ReduceProd", [t.shape(sum(t, x, axes))], { keepdims: 0 }, { dtype: "int64" })),
      d,
    );
    mean = (v) => t.div(sum(t, v, axes), count);
  }
  const centred = t.sub(x, mean(x));
  const inv = t.div(t.scalar(d, 1), t.e.op1("Sqrt", [t.add(mean(t.mul(centred, centred)), t.scalar(d, eps))], {}, { dtype: d }));
  const xhat = t.mul(centred, inv);
  const dx = t.mul(inv, t.sub(t.sub(dyScaled, mean(dyScaled)), t.mul(xhat, mean(t.mul(dyScaled, xhat)))));
  return { xhat, dx };
}

function affineGrads(ctx: GradContext, dy: Value, xhat: Value, x: Value): [Value | undefined, Value | undefined] {
  const t = ctx.t;
  const batchAndSpace = withBatch(t, axesFrom(t, x, 2, ctx.rank(0)));
  return [ctx.needs(1) ? sum(t, t.mul(dy, xhat), batchAndSpace, 0) : undefined, ctx.needs(2) ? sum(t, dy, batchAndSpace, 0) : undefined];
}

export const normRules: Record<string, GradRule> = {
  InstanceNormalization: (ctx, [dy]) => {
    const t = ctx.t;
    const x = ctx.input(0);
    const gamma = t.reshape(ctx.input(1), channelShape(t, x, ctx.rank(0)));
    const { xhat, dx } = normalizedBackward(t, x, axesFrom(t, x, 2, ctx.rank(0)), ctx.float("epsilon", 1e-5), t.mul(dy!, gamma));
    return [ctx.needs(0) ? dx : undefined, ...affineGrads(ctx, dy!, xhat, x)];
  },
  BatchNormalization: (ctx, [dy]) => {
    const t = ctx.t;
    const x = ctx.input(0);
    const eps = ctx.float("epsilon", 1e-5);
    const shape = channelShape(t, x, ctx.rank(0));
    const gamma = t.reshape(ctx.input(1), shape);
    if (ctx.int("training_mode", 0) === 1) {
      const axes = withBatch(t, axesFrom(t, x, 2, ctx.rank(0)));
      const { xhat, dx } = normalizedBackward(t, x, axes, eps, t.mul(dy!, gamma));
      return [ctx.needs(0) ? dx : undefined, ...affineGrads(ctx, dy!, xhat, x), undefined, undefined];
    }
    // Inference form: fixed statistics, an affine map per channel.
    const d = x.dtype ?? "float32";
    const inv = t.div(t.scalar(d, 1), t.e.op1("Sqrt", [t.add(t.reshape(ctx.input(4), shape), t.scalar(d, eps))], {}, { dtype: d }));
    const xhat = t.mul(t.sub(x, t.reshape(ctx.input(3), shape)), inv);
    return [ctx.needs(0) ? t.mul(dy!, t.mul(gamma, inv)) : undefined, ...affineGrads(ctx, dy!, xhat, x), undefined, undefined];
  },
  GroupNormalization: (ctx, [dy]) => {
    const t = ctx.t;
    const opset = ctx.e.opsets.get("") ?? 17;
    if (opset < 21) throw new GradientError(`GroupNormalization node "${ctx.node.name}": opset ${opset}'s per-group scale has no gradient rule; opset 21 (per-channel) does`);
    const x = ctx.input(0);
    const groups = ctx.int("num_groups", 1);
    const shape = t.shape(x);
    const grouped = t.concat([t.slice(shape, t.e.ints([0]), t.e.ints([1])), t.e.ints([groups, -1])]);
    const gamma = t.reshape(ctx.input(1), channelShape(t, x, ctx.rank(0)));
    const dyScaled = t.reshape(t.mul(dy!, gamma), grouped);
    const { xhat, dx } = normalizedBackward(t, t.reshape(x, grouped), { known: [2] }, ctx.float("epsilon", 1e-5), dyScaled);
    const xhatFull = t.reshape(xhat, shape);
    return [ctx.needs(0) ? t.reshape(dx, shape) : undefined, ...affineGrads(ctx, dy!, xhatFull, x)];
  },
};

function oneInt() {
  return tensorProto("one", "int64", [1], [1]);
}
