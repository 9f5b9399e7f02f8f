// Network inputs and assignment targets for batches of COCO samples, the train/validation split, and
// plain image batches (BatchNorm calibration).

import { prepareImage } from "../data/batch.ts";
import type { CocoDataset } from "../data/coco.ts";
import { readImage } from "../data/image.ts";
import type { HostTensor } from "../runtime/host_tensor.ts";
import { adapterNormalisation, type AnchorLayout, anchorLayout, type DetectorAdapter } from "./adapter.ts";
import type { BoundDetector, ModelImageInput } from "./detector_binding.ts";
import type { NativeBinding } from "./native_decode.ts";
import { assignATSS, assignMaxIoU, classTargets, ignoreCrowdAnchors } from "./assigners.ts";

export interface Batch {
  feeds: Record<string, HostTensor>;
}

/** The last `valFraction` of the samples (at least one) are held out for evaluation. */
export function split(ds: CocoDataset, valFraction: number) {
  const nVal = Math.max(1, Math.round(ds.samples.length * valFraction));
  return { train: ds.samples.slice(0, ds.samples.length - nVal), val: ds.samples.slice(ds.samples.length - nVal) };
}

/**
 * How a batch maps onto the train step: a dynamic-batch model takes the batch in one input; a model
 * with one image per run ([3, H, W]) or a static batch k is replicated in the graph, one copy per
 * image (or per k images), each with its own input (see src/onnx/replicate.ts).
 */
export interface BatchPlan {
  adapter: DetectorAdapter;
  layout: AnchorLayout;
  input: ModelImageInput;
  /** Graph copies; each takes `perCopy` images through `imageInputs[i]`. */
  copies: number;
  imageInputs: string[];
  /** Images per copy (dynamic batch: the whole batch). */
  perCopy: number | undefined;
  /** Model-native decode: the loss reads the model's own output and logits. */
  native?: NativeBinding;
}

/** A plan for `batch` images per step (a static batch must divide it). */
export function batchPlan(bound: BoundDetector, batch: number, nameIn: (i: number, name: string) => string = (_, n) => n): BatchPlan {
  const k = bound.input.staticBatch;
  const copies = k === undefined ? 1 : batch / k;
  return { adapter: bound.adapter, layout: bound.layout, input: bound.input, copies, imageInputs: Array.from({ length: copies }, (_, i) => nameIn(i, bound.input.name)), perCopy: k, native: bound.native };
}

/** The plan for a dynamic-batch raw-head export with a known layout (no model needed). */
export function planForRawHeads(adapter: DetectorAdapter, inputName = "images"): BatchPlan {
  const layout = anchorLayout(adapter);
  return { adapter, layout, input: { name: inputName, layout: "NCHW", staticBatch: undefined, size: adapter.imageSize }, copies: 1, imageInputs: [inputName], perCopy: undefined };
}

/** torchvision FCOS's centerness target of a location inside a box: √(min(l,r)/max(l,r) · min(t,b)/max(t,b)). */
export function centernessTarget(x: number, y: number, box: ArrayLike<number>): number {
  const [l, t, r, b] = [x - box[0]!, y - box[1]!, box[2]! - x, box[3]! - y];
  if (Math.min(l, t, r, b) <= 0) return 0;
  return Math.sqrt((Math.min(l, r) / Math.max(l, r)) * (Math.min(t, b) / Math.max(t, b)));
}

/** Network inputs and assignment targets for a list of samples (the plan's batch size when it is fixed). */
export function makeBatch(samples: CocoDataset["samples"], plan: BatchPlan, rand: () => number, flip: boolean): Batch {
  const { adapter, layout } = plan;
  const S = adapter.imageSize;
  const C = adapter.numClasses;
  const N = layout.strides.length;
  const B = samples.length;
  if (plan.perCopy !== undefined && B !== plan.copies * plan.perCopy) throw new RangeError(`makeBatch: ${B} samples for ${plan.copies} × ${plan.perCopy} images`);
  // Network coordinates: the graph may resize its input inside (networkSize).
  const toNetwork = (adapter.networkSize ?? S) / S;
  const withCenterness = adapter.levels.some((l) => l.centerness);
  const images = new Float32Array(B * 3 * S * S);
  const targets = new Float32Array(B * N * C);
  const gtBoxes = new Float32Array(B * N * 4);
  const centerness = withCenterness ? new Float32Array(B * N) : undefined;
  const points = new Float32Array(B * N * 2);
  const strides = new Float32Array(B * N);
  const anchorBoxes = new Float32Array(B * N * 4);
  samples.forEach((s, b) => {
    const img = readImage(s.path);
    // Crowd/ignore regions ride along with the boxes through letterbox and flip, then split off.
    const prepared = prepareImage(img, Float32Array.from([...s.boxes, ...s.ignoreRegions]), S, adapterNormalisation(adapter), flip && rand() < 0.5);
    const prep = { pixels: prepared.pixels, boxes: prepared.boxes.subarray(0, s.boxes.length), ignoreRegions: prepared.boxes.subarray(s.boxes.length) };
    images.set(prep.pixels, b * 3 * S * S);
    const toNet = (b: Float32Array) => (toNetwork === 1 ? b : b.map((v) => v * toNetwork));
    const gts = toNet(prep.boxes);
    const assigned = adapter.assigner === "max-iou" ? assignMaxIoU(layout.assignAnchors, gts) : assignATSS(layout.assignAnchors, layout.perLevel, gts);
    const assignment = ignoreCrowdAnchors(assigned, layout.assignAnchors, toNet(prep.ignoreRegions));
    targets.set(classTargets(assignment, s.classes, C), b * N * C);
    for (let a = 0; a < N; a++) {
      const g = assignment.gt[a]!;
      if (g < 0) continue;
      const box = gts.subarray(4 * g, 4 * g + 4);
      gtBoxes.set(box, (b * N + a) * 4);
      if (centerness) centerness[b * N + a] = centernessTarget(layout.points[2 * a]!, layout.points[2 * a + 1]!, box);
    }
    points.set(layout.points, b * N * 2);
    strides.set(layout.strides, b * N);
    anchorBoxes.set(layout.anchors, b * N * 4);
  });
  const feeds: Record<string, HostTensor> = {
    class_targets: { type: "float32", data: targets, dims: [B * N, C] },
    gt_boxes: { type: "float32", data: gtBoxes, dims: [B * N, 4] },
  };
  const per = B / plan.copies;
  plan.imageInputs.forEach((name, i) => {
    const data = images.subarray(i * per * 3 * S * S, (i + 1) * per * 3 * S * S);
    feeds[name] = { type: "float32", data, dims: plan.input.layout === "CHW" ? [3, S, S] : [per, 3, S, S] };
  });
  if (centerness) feeds.centerness_targets = { type: "float32", data: centerness, dims: [B * N, 1] };
  if (plan.native) {
    // The model decodes its own boxes: no anchor feeds.
  } else if (adapter.coder === "distance-exp") {
    feeds.anchor_points = { type: "float32", data: points, dims: [B * N, 2] };
    feeds.anchor_strides = { type: "float32", data: strides, dims: [B * N, 1] };
  } else feeds.anchor_boxes = { type: "float32", data: anchorBoxes, dims: [B * N, 4] };
  return { feeds };
}

/** Network inputs for up to `maxBatches` batches of `samples` (no augmentation): BatchNorm calibration. */
export function imageBatches(samples: CocoDataset["samples"], adapter: DetectorAdapter, batch: number, maxBatches: number, inputName = "images"): Record<string, HostTensor>[] {
  const S = adapter.imageSize;
  const out: Record<string, HostTensor>[] = [];
  for (let i = 0; i + batch <= samples.length && out.length < maxBatches; i += batch) {
    const images = new Float32Array(batch * 3 * S * S);
    samples.slice(i, i + batch).forEach((s, b) => images.set(prepareImage(readImage(s.path), s.boxes, S, adapterNormalisation(adapter)).pixels, b * 3 * S * S));
    out.push({ [inputName]: { type: "float32", data: images, dims: [batch, 3, S, S] } });
  }
  return out;
}
