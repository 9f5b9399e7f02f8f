// The detection loss graph on a detector's outputs: RS (the official heads' form) or Focal + GIoU.

import type { Value } from "../onnx/builder.ts";
import type { TensorOps } from "../onnx/tensor_ops.ts";
import { focalLoss, giouLoss } from "../train/losses.ts";
import { decodeBoxesInGraph, flattenLevels } from "./box_decode.ts";
import type { BatchPlan } from "./detector_batches.ts";
import { nativeDetectionLoss } from "./native_loss.ts";
import { rsDetectionLoss } from "./rs_detection_loss.ts";

const f = (t: TensorOps, v: number) => t.scalar("float32", v);

/** Binary cross-entropy with logits, elementwise: max(x, 0) − x·y + log(1 + e^−|x|). */
function bceWithLogits(t: TensorOps, x: Value, y: Value): Value {
  const e = (op: string, v: Value) => t.e.op1(op, [v], {}, { dtype: "float32" });
  return t.add(t.sub(t.max(x, f(t, 0)), t.mul(x, y)), e("Log", t.add(f(t, 1), e("Exp", t.neg(e("Abs", x))))));
}

/** The loss graph on the heads of every graph copy: RS (the official heads' form) or Focal + GIoU, plus centerness BCE when the model has centerness heads. */
export function detectionLoss(plan: BatchPlan, kind: "rs" | "focal", nameIn: (copy: number, name: string) => string = (_, n) => n) {
  if (plan.native) return nativeDetectionLoss(plan, kind, nameIn);
  const { adapter } = plan;
  return (t: TensorOps, outputs: Record<string, Value>, input: (n: string, d: "float32", s: (number | string)[]) => Value): { loss: Value; report: Record<string, Value> } => {
    const C = adapter.numClasses;
    const K = C + (adapter.backgroundChannel ? 1 : 0);
    // A level's tensor over the whole batch: the copies' tensors stacked on the batch axis.
    const level = (name: string) => (plan.copies === 1 ? outputs[name]! : t.concat(Array.from({ length: plan.copies }, (_, i) => outputs[nameIn(i, name)]!), 0));
    const all = flattenLevels(t, adapter.levels.map((l) => level(l.classes)), K);
    const slice = (v: Value, from: number, to: number) => t.e.op1("Slice", [v, t.e.ints([from]), t.e.ints([to]), t.e.ints([1])], {}, { dtype: "float32" });
    let targets = input("class_targets", "float32", ["M", C]);
    let logits: Value;
    if (adapter.backgroundChannel === "unused") {
      // torchvision's label 0: a negative everywhere (ignored where the anchor is ignored).
      logits = all;
      targets = t.concat([t.min(t.reduceMax(targets, [1], 1), f(t, 0)), targets], 1);
    } else if (adapter.backgroundChannel === "softmax") {
      // RS on the foreground log-softmax: it ranks exactly as the model's own softmax scores.
      logits = slice(t.e.op1("LogSoftmax", [all], { axis: 1 }, { dtype: "float32" }), 1, C + 1);
    } else logits = adapter.backgroundChannel ? slice(all, 1, C + 1) : all;
    const regression = flattenLevels(t, adapter.levels.map((l) => level(l.boxes)), 4);
    const gtBoxes = input("gt_boxes", "float32", ["M", 4]);
    const decodeInputs =
      adapter.coder === "distance-exp"
        ? { points: input("anchor_points", "float32", ["M", 2]), strides: input("anchor_strides", "float32", ["M", 1]) }
        : { anchors: input("anchor_boxes", "float32", ["M", 4]) };
    const boxes = decodeBoxesInGraph(t, adapter, regression, decodeInputs);
    const report: Record<string, Value> = {};
    let loss: Value;
    if (kind === "rs") {
      const l = rsDetectionLoss(t, { logits, boxes, gtBoxes, classTargets: targets });
      Object.assign(report, { ranking: l.ranking, sorting: l.sorting, box: l.box, lambda: l.lambda });
      loss = l.total;
    } else {
      const positive = t.cast(t.equal(t.reduceMax(targets, [1]), f(t, 1)), "float32");
      const numPositives = t.max(t.reduceSum(positive), f(t, 1));
      const cls = focalLoss(t, logits, targets, numPositives);
      const box = giouLoss(t, boxes, gtBoxes, positive);
      Object.assign(report, { focal: cls, box });
      loss = t.add(cls, t.mul(box, f(t, 2)));
    }
    if (adapter.levels.some((l) => l.centerness)) {
      // torchvision FCOS: BCE of the centerness logits to the centerness target, on positives.
      const ctr = flattenLevels(t, adapter.levels.map((l) => level(l.centerness!)), 1);
      const positive = t.cast(t.equal(t.reduceMax(targets, [1], 1), f(t, 1)), "float32");
      const bce = t.div(t.reduceSum(t.mul(bceWithLogits(t, ctr, input("centerness_targets", "float32", ["M", 1])), positive)), t.max(t.reduceSum(positive), f(t, 1)));
      report.centerness = bce;
      loss = t.add(loss, bce);
    }
    return { loss, report };
  };
}
