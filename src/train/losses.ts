// Losses as ONNX subgraphs, for train-step graphs: our RS/AP/aLRP ops, and standard ones built from
// ONNX ops (focal, GIoU, L1, smooth-L1, cross-entropy, mean squared error). Each returns a scalar.

import { float, type Value } from "../onnx/builder.ts";
import type { TensorOps } from "../onnx/tensor_ops.ts";
import { DOMAIN } from "../ops/domain.ts";

const f = (t: TensorOps, v: number) => t.scalar("float32", v);
const mean = (t: TensorOps, x: Value) => t.e.op1("ReduceMean", [x], { keepdims: 0 }, { dtype: "float32" });

/** Rank & Sort loss of flat logits and targets: ranking + sorting (our op; its gradient is RankSortLossGrad). */
export function rankSortLossTerm(t: TensorOps, logits: Value, targets: Value, delta = 0.5): { total: Value; ranking: Value; sorting: Value } {
  const flat = (v: Value) => t.reshape(v, [-1]);
  const [ranking, sorting] = t.e.op("RankSortLoss", [flat(logits), flat(targets)], { delta: float(delta) }, { domain: DOMAIN, outputs: ["ranking_loss", "sorting_loss", "", ""], dtype: "float32" });
  return { total: t.add(ranking!, sorting!), ranking: ranking!, sorting: sorting! };
}

export function apLossTerm(t: TensorOps, logits: Value, targets: Value, delta = 1): Value {
  const flat = (v: Value) => t.reshape(v, [-1]);
  return t.e.op("APLoss", [flat(logits), flat(targets)], { delta: float(delta) }, { domain: DOMAIN, outputs: ["ap_loss", ""], dtype: "float32" })[0]!;
}

export function meanSquaredError(t: TensorOps, prediction: Value, target: Value): Value {
  const d = t.sub(prediction, target);
  return mean(t, t.mul(d, d));
}

export function l1Loss(t: TensorOps, prediction: Value, target: Value): Value {
  return mean(t, t.e.op1("Abs", [t.sub(prediction, target)], {}, { dtype: "float32" }));
}

export function smoothL1Loss(t: TensorOps, prediction: Value, target: Value, beta = 1): Value {
  const d = t.e.op1("Abs", [t.sub(prediction, target)], {}, { dtype: "float32" });
  const quadratic = t.div(t.mul(t.mul(d, d), f(t, 0.5)), f(t, beta));
  return mean(t, t.where(t.less(d, f(t, beta)), quadratic, t.sub(d, f(t, 0.5 * beta))));
}

/** Softmax cross-entropy: logits [B, C], one-hot (or soft) targets [B, C]. */
export function crossEntropyLoss(t: TensorOps, logits: Value, targets: Value): Value {
  const logp = t.e.op1("LogSoftmax", [logits], { axis: -1 }, { dtype: "float32" });
  return t.neg(mean(t, t.reduceSum(t.mul(targets, logp), [-1])));
}

/**
 * Sigmoid focal loss (Lin et al.) summed over entries with target ≥ 0 and divided by `normalizer`
 * (usually the number of positives); targets: 1 positive, 0 negative, −1 ignored.
 */
export function focalLoss(t: TensorOps, logits: Value, targets: Value, normalizer: Value, alpha = 0.25, gamma = 2): Value {
  const p = t.e.op1("Sigmoid", [logits], {}, { dtype: "float32" });
  const isPos = t.cast(t.equal(targets, f(t, 1)), "float32");
  const valid = t.cast(t.greaterOrEqual(targets, f(t, 0)), "float32");
  // −log σ(x) = softplus(−x), −log(1 − σ(x)) = softplus(x), written stably as max(z, 0) + log(1 + e^{−|z|}).
  const softplus = (z: Value) =>
    t.add(t.max(z, f(t, 0)), t.e.op1("Log", [t.add(f(t, 1), t.e.op1("Exp", [t.neg(t.e.op1("Abs", [z], {}, { dtype: "float32" }))], {}, { dtype: "float32" }))], {}, { dtype: "float32" }));
  const ce = t.add(t.mul(isPos, softplus(t.neg(logits))), t.mul(t.sub(f(t, 1), isPos), softplus(logits)));
  const pt = t.add(t.mul(isPos, p), t.mul(t.sub(f(t, 1), isPos), t.sub(f(t, 1), p)));
  const weight = t.add(t.mul(isPos, f(t, alpha)), t.mul(t.sub(f(t, 1), isPos), f(t, 1 - alpha)));
  const mod = t.e.op1("Pow", [t.sub(f(t, 1), pt), f(t, gamma)], {}, { dtype: "float32" });
  return t.div(t.reduceSum(t.mul(t.mul(t.mul(weight, mod), ce), valid)), normalizer);
}

/** GIoU loss (1 − GIoU) of boxes [K, 4] as x1, y1, x2, y2, weighted per box and normalised by Σ weight. */
export function giouLoss(t: TensorOps, boxes: Value, targetBoxes: Value, weights?: Value): Value {
  const axis1 = (b: Value, i: number) => t.e.op1("Slice", [b, t.e.ints([i]), t.e.ints([i + 1]), t.e.ints([1])], {}, { dtype: "float32" });
  const [x1, y1, x2, y2] = [0, 1, 2, 3].map((i) => axis1(boxes, i));
  const [u1, v1, u2, v2] = [0, 1, 2, 3].map((i) => axis1(targetBoxes, i));
  const area = (a: Value, b: Value, c: Value, d: Value) => t.mul(t.max(t.sub(c, a), f(t, 0)), t.max(t.sub(d, b), f(t, 0)));
  const inter = area(t.max(x1!, u1!), t.max(y1!, v1!), t.min(x2!, u2!), t.min(y2!, v2!));
  const union = t.sub(t.add(area(x1!, y1!, x2!, y2!), area(u1!, v1!, u2!, v2!)), inter);
  const eps = f(t, 1e-7);
  const iou = t.div(inter, t.add(union, eps));
  const hull = area(t.min(x1!, u1!), t.min(y1!, v1!), t.max(x2!, u2!), t.max(y2!, v2!));
  const giou = t.sub(iou, t.div(t.sub(hull, union), t.add(hull, eps)));
  const loss = t.reshape(t.sub(f(t, 1), giou), [-1]);
  if (!weights) return mean(t, loss);
  return t.div(t.reduceSum(t.mul(loss, weights)), t.add(t.reduceSum(weights), eps));
}
