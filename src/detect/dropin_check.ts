// The drop-in check: the exported model's own post-processed outputs against ranksort's decode and
// NMS of its head tensors, on the same images. A trained file whose own outputs differ from what
// ranksort evaluated is a silently broken drop-in — the worst outcome — so a disagreement fails.

import { prepareImage } from "../data/batch.ts";
import type { RGBImage } from "../data/image.ts";
import { decodeModel } from "../onnx/model_codec.ts";
import type { HostTensor } from "../runtime/host_tensor.ts";
import { RankSortSession } from "../runtime/session.ts";
import { AdapterError, adapterNormalisation, type DetectorAdapter } from "./adapter.ts";
import { iou } from "./boxes.ts";
import { bindDetector } from "./detector_binding.ts";
import { nativeDetections } from "./native_decode.ts";
import { postprocess } from "./postprocess.ts";
import { DetectorRunner, type ImageDetection, postprocessOptions } from "./run_detector.ts";

/** The exported model's own outputs disagree with ranksort's evaluation (exit 1: the run finished, its result is wrong). */
export class DropInError extends Error {
  override name = "DropInError";
  readonly exitCode = 1;
}

export interface DropInCheck {
  ok: boolean;
  summary: string;
  images: number;
  /** Detections above the compared score floor: the model's own, and ranksort's. */
  modelDetections: number;
  ranksortDetections: number;
  matched: number;
  /** Agreeing ranks (per image and class, in score order) / ranks compared (1 when neither has any). */
  agreement: number;
  /** Over matched pairs. */
  meanIoU: number;
  maxScoreDifference: number;
  /** The model's own detections of its background label (never a class). */
  backgroundDetections: number;
  scoreFloor: number;
}

const MIN_AGREEMENT = 0.9;

/** The model's own post-processed detections per image (its boxes, scores, labels outputs), in the image's pixels. */
export async function modelOwnDetections(model: Uint8Array, adapter: DetectorAdapter, images: readonly RGBImage[]): Promise<{ detections: ImageDetection[][]; background: number }> {
  const proto = decodeModel(model);
  const bound = await bindDetector(proto, adapter);
  if (bound.native) {
    // The whole file as exported (not ranksort's cut), its own boxes and scores, then NMS.
    const session = await RankSortSession.create(proto, { executionProvider: "cpu" });
    const S = bound.input.size;
    const detections: ImageDetection[][] = [];
    try {
      for (const img of images) {
        const prep = prepareImage(img, new Float32Array(0), S, adapterNormalisation(bound.adapter));
        const out = await session.run({ [bound.input.name]: { type: "float32", data: prep.pixels, dims: bound.input.layout === "CHW" ? [3, S, S] : [1, 3, S, S] } });
        const { scores, boxes } = nativeDetections(bound.native, out[bound.native.output]!, 0);
        const k = 1 / prep.scale;
        detections.push(postprocess(scores, boxes, bound.adapter.numClasses, postprocessOptions(bound.adapter), bound.layout.perLevel).map((d) => ({ classIndex: d.classIndex, score: d.score, box: [d.box[0] * k, d.box[1] * k, d.box[2] * k, d.box[3] * k] })));
      }
    } finally {
      await session.release();
    }
    return { detections, background: 0 };
  }
  const outs = adapter.modelDetections!;
  const names = proto.graph!.output.map((o) => o.name);
  const pick = (ref: number | string) => {
    const name = typeof ref === "number" ? names[ref] : ref;
    if (name === undefined || !names.includes(name)) throw new AdapterError(`adapter "${adapter.name}": modelDetections names output ${JSON.stringify(ref)}, but the model's outputs are ${names.join(", ")}`);
    return name;
  };
  const [boxesName, scoresName, labelsName] = [pick(outs.boxes), pick(outs.scores), pick(outs.labels)];
  const session = await RankSortSession.create(proto, { executionProvider: "cpu" });
  const S = bound.input.size;
  const offset = adapter.backgroundChannel ? 1 : 0;
  let background = 0;
  const detections: ImageDetection[][] = [];
  try {
    for (const img of images) {
      const prep = prepareImage(img, new Float32Array(0), S, adapterNormalisation(adapter));
      const feed: HostTensor = { type: "float32", data: prep.pixels, dims: bound.input.layout === "CHW" ? [3, S, S] : [1, 3, S, S] };
      const out = await session.run({ [bound.input.name]: feed });
      const boxes = out[boxesName]!.data as Float32Array;
      const scores = out[scoresName]!.data as Float32Array;
      const labels = Array.from(out[labelsName]!.data as ArrayLike<number | bigint>, Number);
      const k = 1 / prep.scale;
      const found: ImageDetection[] = [];
      labels.forEach((label, i) => {
        if (label < offset) {
          background++;
          return;
        }
        found.push({ classIndex: label - offset, score: scores[i]!, box: [boxes[4 * i]! * k, boxes[4 * i + 1]! * k, boxes[4 * i + 2]! * k, boxes[4 * i + 3]! * k] });
      });
      detections.push(found);
    }
  } finally {
    await session.release();
  }
  return { detections, background };
}

/**
 * How well two boxes agree: their IoU, or 1 when every coordinate matches to 0.1 % — a box clipped
 * flat against the image border (common while a head is young) has no area, so no IoU, yet the two
 * decodes agree exactly.
 */
function boxAgreement(a: readonly number[], b: readonly number[]): number {
  if (a.every((v, k) => Math.abs(v - b[k]!) <= 1e-3 * Math.max(1, Math.abs(v)))) return 1;
  const overlap = iou(Float32Array.from(a), 0, Float32Array.from(b), 0);
  return Number.isFinite(overlap) ? overlap : 0;
}

/**
 * Agreement of two detection lists of one image, robust to exact score ties (letterbox padding gives
 * many anchors identical scores, and which of them survive top-k and NMS is order-dependent): per
 * class, the sorted score sequences must agree, and every detection whose score is unique in its
 * class must have a twin — same class, IoU ≥ 0.9 (or the same corners), score within 1e-3
 * (relative 1%).
 */
export function compareImageDetections(a: ImageDetection[], b: ImageDetection[]): { compared: number; agreeing: number; ious: number[]; scoreDiffs: number[] } {
  let [compared, agreeing] = [0, 0];
  const ious: number[] = [];
  const scoreDiffs: number[] = [];
  const close = (x: number, y: number) => Math.abs(x - y) <= Math.max(1e-3, 0.01 * x);
  const classes = new Set([...a, ...b].map((d) => d.classIndex));
  for (const c of classes) {
    const ac = a.filter((d) => d.classIndex === c).sort((x, y) => y.score - x.score);
    const bc = b.filter((d) => d.classIndex === c).sort((x, y) => y.score - x.score);
    const n = Math.max(ac.length, bc.length);
    for (let i = 0; i < n; i++) {
      compared++;
      const [x, y] = [ac[i], bc[i]];
      if (!x || !y || !close(x.score, y.score)) continue;
      const tied = ac.some((o, k) => k !== i && Math.abs(o.score - x.score) <= 1e-6);
      if (tied) {
        agreeing++;
        continue;
      }
      const twin = bc.find((e) => close(e.score, x.score) && boxAgreement(e.box, x.box) >= 0.9);
      if (!twin) continue;
      agreeing++;
      ious.push(boxAgreement(twin.box, x.box));
      scoreDiffs.push(Math.abs(twin.score - x.score));
    }
  }
  return { compared, agreeing, ious, scoreDiffs };
}

export async function checkDropIn(model: Uint8Array, adapter: DetectorAdapter, images: readonly RGBImage[]): Promise<DropInCheck> {
  const own = await modelOwnDetections(model, adapter, images);
  const runner = await DetectorRunner.create(model, adapter);
  let ours: ImageDetection[][];
  try {
    ours = await runner.detect(images);
  } finally {
    await runner.release();
  }
  // Detections right at the threshold or the top-k cut can flip on float rounding; compare above it.
  const floor = (adapter.postprocess?.scoreThreshold ?? 0) + 0.01;
  let [nModel, nOurs, matched, compared] = [0, 0, 0, 0];
  const ious: number[] = [];
  const diffs: number[] = [];
  images.forEach((_, i) => {
    const a = own.detections[i]!.filter((d) => d.score >= floor);
    const b = ours[i]!.filter((d) => d.score >= floor);
    const m = compareImageDetections(a, b);
    nModel += a.length;
    nOurs += b.length;
    compared += m.compared;
    matched += m.agreeing;
    ious.push(...m.ious);
    diffs.push(...m.scoreDiffs);
  });
  const denominator = compared;
  const agreement = denominator ? matched / denominator : 1;
  const ok = agreement >= MIN_AGREEMENT && own.background <= 0.05 * Math.max(nModel, 1);
  const summary = denominator
    ? `${matched} of ${denominator} detections above score ${floor.toFixed(3)} agree on ${images.length} images (${(100 * agreement).toFixed(1)}%; needs ${100 * MIN_AGREEMENT}%)${own.background ? `, ${own.background} detections of the background label` : ""}`
    : `no detections above score ${floor.toFixed(3)} on ${images.length} images from either side: nothing to compare`;
  return {
    ok,
    summary,
    images: images.length,
    modelDetections: nModel,
    ranksortDetections: nOurs,
    matched,
    agreement,
    meanIoU: ious.length ? ious.reduce((x, y) => x + y, 0) / ious.length : 1,
    maxScoreDifference: diffs.length ? Math.max(...diffs) : 0,
    backgroundDetections: own.background,
    scoreFloor: floor,
  };
}
