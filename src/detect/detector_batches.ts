// Network inputs and assignment targets for batches of COCO samples, the train/validation split, and
// plain image batches (BatchNorm calibration).

import { prepareImage } from "../data/batch.ts";
import type { CocoDataset } from "../data/coco.ts";
import { readImage } from "../data/image.ts";
import type { HostTensor } from "../runtime/host_tensor.ts";
import { adapterNormalisation, type AnchorLayout, type DetectorAdapter } from "./adapter.ts";
import { assignATSS, assignMaxIoU, classTargets, ignoreCrowdAnchors } from "./assigners.ts";

export interface Batch {
  feeds: Record<string, HostTensor>;
}

/** The last `valFraction` of the samples (at least one) are held out for evaluation. */
export function split(ds: CocoDataset, valFraction: number) {
  const nVal = Math.max(1, Math.round(ds.samples.length * valFraction));
  return { train: ds.samples.slice(0, ds.samples.length - nVal), val: ds.samples.slice(ds.samples.length - nVal) };
}

/** Network inputs and assignment targets for a list of samples. */
export function makeBatch(samples: CocoDataset["samples"], adapter: DetectorAdapter, layout: AnchorLayout, rand: () => number, flip: boolean): Batch {
  const S = adapter.imageSize;
  const C = adapter.numClasses;
  const N = layout.strides.length;
  const B = samples.length;
  const images = new Float32Array(B * 3 * S * S);
  const targets = new Float32Array(B * N * C);
  const gtBoxes = new Float32Array(B * N * 4);
  const points = new Float32Array(B * N * 2);
  const strides = new Float32Array(B * N);
  const anchorBoxes = new Float32Array(B * N * 4);
  samples.forEach((s, b) => {
    const img = readImage(s.path);
    // Crowd/ignore regions ride along with the boxes through letterbox and flip, then split off.
    const prepared = prepareImage(img, Float32Array.from([...s.boxes, ...s.ignoreRegions]), S, adapterNormalisation(adapter), flip && rand() < 0.5);
    const prep = { pixels: prepared.pixels, boxes: prepared.boxes.subarray(0, s.boxes.length), ignoreRegions: prepared.boxes.subarray(s.boxes.length) };
    images.set(prep.pixels, b * 3 * S * S);
    const assigned = adapter.assigner === "max-iou" ? assignMaxIoU(layout.anchors, prep.boxes) : assignATSS(layout.anchors, layout.perLevel, prep.boxes);
    const assignment = ignoreCrowdAnchors(assigned, layout.anchors, prep.ignoreRegions);
    targets.set(classTargets(assignment, s.classes, C), b * N * C);
    for (let a = 0; a < N; a++) {
      const g = assignment.gt[a]!;
      if (g >= 0) gtBoxes.set(prep.boxes.subarray(4 * g, 4 * g + 4), (b * N + a) * 4);
    }
    points.set(layout.points, b * N * 2);
    strides.set(layout.strides, b * N);
    anchorBoxes.set(layout.anchors, b * N * 4);
  });
  const feeds: Record<string, HostTensor> = {
    images: { type: "float32", data: images, dims: [B, 3, S, S] },
    class_targets: { type: "float32", data: targets, dims: [B * N, C] },
    gt_boxes: { type: "float32", data: gtBoxes, dims: [B * N, 4] },
  };
  if (adapter.coder === "delta-xywh") feeds.anchor_boxes = { type: "float32", data: anchorBoxes, dims: [B * N, 4] };
  else {
    feeds.anchor_points = { type: "float32", data: points, dims: [B * N, 2] };
    feeds.anchor_strides = { type: "float32", data: strides, dims: [B * N, 1] };
  }
  return { feeds };
}

export /** Network inputs for up to `maxBatches` batches of `samples` (no augmentation): BatchNorm calibration. */
function imageBatches(samples: CocoDataset["samples"], adapter: DetectorAdapter, batch: number, maxBatches: number): Record<string, HostTensor>[] {
  const S = adapter.imageSize;
  const out: Record<string, HostTensor>[] = [];
  for (let i = 0; i + batch <= samples.length && out.length < maxBatches; i += batch) {
    const images = new Float32Array(batch * 3 * S * S);
    samples.slice(i, i + batch).forEach((s, b) => images.set(prepareImage(readImage(s.path), s.boxes, S, adapterNormalisation(adapter)).pixels, b * 3 * S * S));
    out.push({ images: { type: "float32", data: images, dims: [batch, 3, S, S] } });
  }
  return out;
}

