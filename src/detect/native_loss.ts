// The loss graph of model-native decode: RS loss (the official heads' form, self-balancing λ) on the
// model's pre-sigmoid class logits and GIoU on the boxes the model decodes itself (DFL or exp), so
// the gradient runs through the model's own decode. Focal + GIoU is the alternative, as elsewhere.

import type { Value } from "../onnx/builder.ts";
import type { TensorOps } from "../onnx/tensor_ops.ts";
import { focalLoss, giouLoss } from "../train/losses.ts";
import type { BatchPlan } from "./detector_batches.ts";
import { rsDetectionLoss } from "./rs_detection_loss.ts";

const f = (t: TensorOps, v: number) => t.scalar("float32", v);

export function nativeDetectionLoss(plan: BatchPlan, kind: "rs" | "focal", nameIn: (copy: number, name: string) => string = (_, n) => n) {
  const native = plan.native!;
  return (t: TensorOps, outputs: Record<string, Value>, input: (n: string, d: "float32", s: (number | string)[]) => Value): { loss: Value; report: Record<string, Value> } => {
    const K = native.modelClasses;
    const stacked = (name: string) => (plan.copies === 1 ? outputs[name]! : t.concat(Array.from({ length: plan.copies }, (_, i) => outputs[nameIn(i, name)]!), 0));
    // [B, ch, N] → [B·N, ch]; [B, N, ch] → [B·N, ch].
    const rows = (v: Value, layout: "channels-first" | "channels-last", ch: number) =>
      t.reshape(layout === "channels-first" ? t.e.op1("Transpose", [v], { perm: [0, 2, 1] }, { dtype: "float32" }) : v, [-1, ch]);
    const out = rows(stacked(native.output), native.layout, 4 + K);
    const col = (i: number) => t.e.op1("Slice", [out, t.e.ints([i]), t.e.ints([i + 1]), t.e.ints([1])], {}, { dtype: "float32" });
    const [p, q, r, s] = [0, 1, 2, 3].map(col) as [Value, Value, Value, Value];
    const boxes =
      native.boxFormat === "cxcywh"
        ? t.concat([t.sub(p, t.mul(r, f(t, 0.5))), t.sub(q, t.mul(s, f(t, 0.5))), t.add(p, t.mul(r, f(t, 0.5))), t.add(q, t.mul(s, f(t, 0.5)))], 1)
        : t.concat([p, q, r, s], 1);
    const logits = rows(stacked(native.logits), native.logitsLayout, K);
    const targets = input("class_targets", "float32", ["M", K]);
    const gtBoxes = input("gt_boxes", "float32", ["M", 4]);
    if (kind === "rs") {
      const l = rsDetectionLoss(t, { logits, boxes, gtBoxes, classTargets: targets });
      return { loss: l.total, report: { ranking: l.ranking, sorting: l.sorting, box: l.box, lambda: l.lambda } };
    }
    const positive = t.cast(t.equal(t.reduceMax(targets, [1]), f(t, 1)), "float32");
    const cls = focalLoss(t, logits, targets, t.max(t.reduceSum(positive), f(t, 1)));
    const box = giouLoss(t, boxes, gtBoxes, positive);
    return { loss: t.add(cls, t.mul(box, f(t, 2))), report: { focal: cls, box } };
  };
}
