// The loss exactly as the official Rank & Sort heads train (REFERENCE.md, "Training use"), as an
// ONNX subgraph for train steps:
//   - classification targets: 1 at (positive anchor, its gt class) is replaced by the IoU between
//     the decoded predicted box (detached) and its gt box; ignored anchors are −1 in every class;
//   - RS loss (ranking + sorting) on the flattened logits of the whole batch;
//   - GIoU loss on positives, weighted by the detached max class score, normalised by their sum;
//   - total = ranking + sorting + λ·box with the self-balancing λ = (ranking + sorting) / box,
//     detached (0 when there is no box loss).

import type { Value } from "../onnx/builder.ts";
import type { TensorOps } from "../onnx/tensor_ops.ts";
import { DOMAIN } from "../ops/domain.ts";
import { giouLoss, rankSortLossTerm } from "../train/losses.ts";

export interface RSDetectionInputs {
  /** Classification logits [A, C] of all anchors of the batch. */
  logits: Value;
  /** Predicted boxes [A, 4] (x1, y1, x2, y2), already decoded from the regression outputs. */
  boxes: Value;
  /** Assigned gt box per anchor [A, 4] (anything for non-positives). */
  gtBoxes: Value;
  /** Class targets [A, C]: 1 at positives' classes, 0, −1 for ignored anchors. */
  classTargets: Value;
}

export interface RSDetectionLoss {
  total: Value;
  ranking: Value;
  sorting: Value;
  box: Value;
  lambda: Value;
}

export function stopGradient(t: TensorOps, x: Value): Value {
  return t.e.op1("StopGradient", [x], {}, { domain: DOMAIN, dtype: x.dtype });
}

/** Elementwise IoU of two [A, 4] box sets → [A, 1]. */
export function pairIoU(t: TensorOps, a: Value, b: Value): Value {
  const col = (v: Value, i: number) => t.e.op1("Slice", [v, t.e.ints([i]), t.e.ints([i + 1]), t.e.ints([1])], {}, { dtype: "float32" });
  const f = (v: number) => t.scalar("float32", v);
  const [x1, y1, x2, y2] = [0, 1, 2, 3].map((i) => col(a, i));
  const [u1, v1, u2, v2] = [0, 1, 2, 3].map((i) => col(b, i));
  const area = (p: Value, q: Value, r: Value, s: Value) => t.mul(t.max(t.sub(r, p), f(0)), t.max(t.sub(s, q), f(0)));
  const inter = area(t.max(x1!, u1!), t.max(y1!, v1!), t.min(x2!, u2!), t.min(y2!, v2!));
  const union = t.sub(t.add(area(x1!, y1!, x2!, y2!), area(u1!, v1!, u2!, v2!)), inter);
  return t.div(inter, t.max(union, f(1e-12)));
}

export function rsDetectionLoss(t: TensorOps, inputs: RSDetectionInputs, delta = 0.5): RSDetectionLoss {
  const f = (v: number) => t.scalar("float32", v);
  const { logits, boxes, gtBoxes, classTargets } = inputs;
  const iouTargets = pairIoU(t, stopGradient(t, boxes), gtBoxes); // [A, 1]
  const targets = t.where(t.equal(classTargets, f(1)), t.e.op1("Expand", [iouTargets, t.shape(classTargets)], {}, { dtype: "float32" }), classTargets);
  const rs = rankSortLossTerm(t, logits, targets, delta);
  // Positives: anchors with a 1 in their class targets; weights = detached max class score.
  const isPositive = t.cast(t.equal(t.reduceMax(classTargets, [1]), f(1)), "float32"); // [A]
  const score = stopGradient(t, t.reduceMax(t.e.op1("Sigmoid", [logits], {}, { dtype: "float32" }), [1]));
  const weights = t.mul(score, isPositive);
  const box = giouLoss(t, boxes, gtBoxes, weights);
  const ranking = rs.ranking;
  const sorting = rs.sorting;
  const rsTotal = t.add(ranking, sorting);
  const lambda = stopGradient(t, t.where(t.greater(box, f(0)), t.div(rsTotal, t.max(box, f(1e-12))), f(0)));
  return { total: t.add(rsTotal, t.mul(lambda, box)), ranking, sorting, box, lambda };
}
