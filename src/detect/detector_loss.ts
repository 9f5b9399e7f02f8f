// The detection loss graph on a detector's outputs: RS (the official heads' form) or Focal + GIoU.

import type { Value } from "../onnx/builder.ts";
import type { TensorOps } from "../onnx/tensor_ops.ts";
import { focalLoss, giouLoss } from "../train/losses.ts";
import { classChannels, decodeDeltaInGraph, decodeInGraph, type DetectorAdapter, flattenLevels } from "./adapter.ts";
import { rsDetectionLoss } from "./rs_detection_loss.ts";

/** The loss graph on the model's outputs: RS (the official heads' form) or Focal + GIoU. */
export function detectionLoss(adapter: DetectorAdapter, kind: "rs" | "focal") {
  return (t: TensorOps, outputs: Record<string, Value>, input: (n: string, d: "float32", s: (number | string)[]) => Value): { loss: Value; report: Record<string, Value> } => {
    const C = adapter.numClasses;
    const all = flattenLevels(t, adapter.levels.map((l) => outputs[l.classes]!), classChannels(adapter));
    // SSD-style outputs: drop the background logit in front of each anchor's class logits.
    const logits = adapter.backgroundChannel ? t.e.op1("Slice", [all, t.e.ints([1]), t.e.ints([C + 1]), t.e.ints([1])], {}, { dtype: "float32" }) : all;
    const regression = flattenLevels(t, adapter.levels.map((l) => outputs[l.boxes]!), 4);
    const targets = input("class_targets", "float32", ["M", C]);
    const gtBoxes = input("gt_boxes", "float32", ["M", 4]);
    const boxes =
      adapter.coder === "delta-xywh"
        ? decodeDeltaInGraph(t, regression, input("anchor_boxes", "float32", ["M", 4]))
        : decodeInGraph(t, regression, input("anchor_points", "float32", ["M", 2]), input("anchor_strides", "float32", ["M", 1]));
    if (kind === "rs") {
      const l = rsDetectionLoss(t, { logits, boxes, gtBoxes, classTargets: targets });
      return { loss: l.total, report: { ranking: l.ranking, sorting: l.sorting, box: l.box, lambda: l.lambda } };
    }
    const f = (v: number) => t.scalar("float32", v);
    const positive = t.cast(t.equal(t.reduceMax(targets, [1]), f(1)), "float32");
    const numPositives = t.max(t.reduceSum(positive), f(1));
    const cls = focalLoss(t, logits, targets, numPositives);
    const box = giouLoss(t, boxes, gtBoxes, positive);
    return { loss: t.add(cls, t.mul(box, f(2))), report: { focal: cls, box } };
  };
}

