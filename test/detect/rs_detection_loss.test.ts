// The official heads' RS training loss as a graph: values against the CPU kernel and a direct
// computation, and the detaches (IoU targets, box weights, λ) respected by the gradient graph.
import { describe, expect, test } from "bun:test";
import * as ort from "onnxruntime-node";
import { buildGradientModel } from "../../src/autodiff/gradient_graph.ts";
import { giou, iou } from "../../src/detect/boxes.ts";
import { rsDetectionLoss } from "../../src/detect/rs_detection_loss.ts";
import { rankSortLoss } from "../../src/index.ts";
import { maxToleranceRatio } from "../../src/cases/tolerance.ts";
import { GraphBuilder } from "../../src/onnx/builder.ts";
import { encodeModel } from "../../src/onnx/model_codec.ts";
import { TensorOps } from "../../src/onnx/tensor_ops.ts";
import { DOMAIN } from "../../src/ops/domain.ts";
import { withFunctionBodies } from "../../src/runtime/session.ts";
import { mulberry32 } from "../../src/util/random.ts";

const A = 40;
const C = 3;

function data() {
  const rand = mulberry32(17);
  const logits = Float32Array.from({ length: A * C }, () => rand() * 4 - 3);
  const boxes = new Float32Array(A * 4);
  const gtBoxes = new Float32Array(A * 4);
  const classTargets = new Float32Array(A * C);
  for (let a = 0; a < A; a++) {
    const [x, y, w, h] = [rand() * 50, rand() * 50, 10 + rand() * 20, 10 + rand() * 20];
    gtBoxes.set([x, y, x + w, y + h], 4 * a);
    boxes.set([x + rand() * 6 - 3, y + rand() * 6 - 3, x + w + rand() * 6 - 3, y + h + rand() * 6 - 3], 4 * a);
    if (a % 4 === 0) classTargets[a * C + (a % C)] = 1;
    else if (a % 7 === 0) classTargets.fill(-1, a * C, (a + 1) * C);
  }
  return { logits, boxes, gtBoxes, classTargets };
}

function graph() {
  const g = new GraphBuilder("rs_det", { "": 17, [DOMAIN]: 1 });
  const t = new TensorOps(g);
  const inputs = {
    logits: g.input("logits", "float32", [A, C]),
    boxes: g.input("boxes", "float32", [A, 4]),
    gtBoxes: g.input("gt_boxes", "float32", [A, 4]),
    classTargets: g.input("class_targets", "float32", [A, C]),
  };
  const l = rsDetectionLoss(t, inputs);
  g.output(l.total, "total", "float32", []);
  g.output(l.ranking, "ranking", "float32", []);
  g.output(l.sorting, "sorting", "float32", []);
  g.output(l.box, "box", "float32", []);
  g.output(l.lambda, "lambda", "float32", []);
  return withFunctionBodies(g.model());
}

describe("RS detection loss", () => {
  test("values: RS on IoU targets, score-weighted GIoU, self-balancing λ", async () => {
    const d = data();
    const s = await ort.InferenceSession.create(encodeModel(graph()));
    const T = (x: Float32Array, dims: number[]) => new ort.Tensor("float32", x, dims);
    const out = await s.run({ logits: T(d.logits, [A, C]), boxes: T(d.boxes, [A, 4]), gt_boxes: T(d.gtBoxes, [A, 4]), class_targets: T(d.classTargets, [A, C]) });
    const v = (k: string) => (out[k]!.data as Float32Array)[0]!;
    // Direct computation.
    const targets = d.classTargets.slice();
    let wSum = 0;
    let wLoss = 0;
    for (let a = 0; a < A; a++) {
      for (let c = 0; c < C; c++) if (d.classTargets[a * C + c] === 1) targets[a * C + c] = iou(d.boxes, a, d.gtBoxes, a);
      if (d.classTargets.subarray(a * C, (a + 1) * C).includes(1)) {
        const w = Math.max(...Array.from(d.logits.subarray(a * C, (a + 1) * C), (x) => 1 / (1 + Math.exp(-x))));
        wSum += w;
        wLoss += w * (1 - giou(d.boxes, a, d.gtBoxes, a));
      }
    }
    const k = rankSortLoss(d.logits, targets);
    expect(v("ranking")).toBeCloseTo(k.rankingLoss, 5);
    expect(v("sorting")).toBeCloseTo(k.sortingLoss, 5);
    expect(v("box")).toBeCloseTo(wLoss / wSum, 5);
    expect(v("lambda")).toBeCloseTo((k.rankingLoss + k.sortingLoss) / (wLoss / wSum), 4);
    expect(v("total")).toBeCloseTo(2 * (k.rankingLoss + k.sortingLoss), 4);
  });

  test("gradients: logits get exactly the RS update (score weights and λ detached)", async () => {
    const d = data();
    const grad = buildGradientModel(graph(), { wrt: ["logits", "boxes"], outputs: ["total"] });
    const s = await ort.InferenceSession.create(encodeModel(grad.model));
    const T = (x: Float32Array, dims: number[]) => new ort.Tensor("float32", x, dims);
    const out = await s.run({
      logits: T(d.logits, [A, C]), boxes: T(d.boxes, [A, 4]), gt_boxes: T(d.gtBoxes, [A, 4]), class_targets: T(d.classTargets, [A, C]),
      [grad.cotangents.total!]: new ort.Tensor("float32", new Float32Array([1]), []),
    });
    const targets = d.classTargets.slice();
    for (let a = 0; a < A; a++) for (let c = 0; c < C; c++) if (d.classTargets[a * C + c] === 1) targets[a * C + c] = iou(d.boxes, a, d.gtBoxes, a);
    const k = rankSortLoss(d.logits, targets);
    expect(maxToleranceRatio(out[grad.gradients.logits!]!.data as Float32Array, k.grad)).toBeLessThanOrEqual(1);
    // Boxes get a gradient only through the GIoU term, and only at positives.
    const gb = out[grad.gradients.boxes!]!.data as Float32Array;
    for (let a = 0; a < A; a++) {
      const positive = d.classTargets.subarray(a * C, (a + 1) * C).includes(1);
      for (let j = 0; j < 4; j++) if (!positive) expect(gb[4 * a + j]).toBe(0);
    }
    expect(gb.some((x) => x !== 0)).toBe(true);
  });
});
