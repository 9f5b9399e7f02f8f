// Predict: a trained detector on images → boxes in each image's pixels, scores and classes above a
// score threshold, with the adapter's decode and NMS (DetectorRunner); and those detections as a
// COCO results list. No file system here: `predict_files.ts` is the Node side.

import type { RGBImage } from "../data/image.ts";
import type { ExecutionProvider } from "../runtime/session.ts";
import type { DetectorAdapter } from "./adapter.ts";
import { DetectorRunner, type ImageDetection } from "./run_detector.ts";

export interface PredictOptions {
  /** Keep detections scoring at least this (default 0.3). */
  scoreThreshold?: number;
  executionProvider?: ExecutionProvider;
  /** Images per session run (default 8). */
  batch?: number;
}

/** One entry of a COCO results file: `bbox` is [x, y, width, height] in image pixels. */
export interface CocoResult {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  score: number;
}

/**
 * Detections per image (in the order given), best first, boxes clipped to the image, from an exported detector's bytes and its
 * adapter (a preset from `PRESETS` or an adapter JSON's contents).
 */
export async function predict(model: Uint8Array, adapter: DetectorAdapter, images: readonly RGBImage[], options: PredictOptions = {}): Promise<ImageDetection[][]> {
  const threshold = options.scoreThreshold ?? 0.3;
  if (!(threshold >= 0 && threshold <= 1)) throw new RangeError(`score threshold must be within 0…1, got ${threshold}`);
  const runner = await DetectorRunner.create(model, adapter, { executionProvider: options.executionProvider, batch: options.batch });
  let found: ImageDetection[][];
  try {
    found = await runner.detect(images);
  } finally {
    await runner.release();
  }
  // Boxes may reach past the border (decoded regressions); clipped to the image, as COCO results are.
  return found.map((dets, i) => {
    const { width, height } = images[i]!;
    const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
    return dets
      .filter((d) => d.score >= threshold)
      .sort((a, b) => b.score - a.score)
      .map((d) => ({ ...d, box: [clip(d.box[0], width), clip(d.box[1], height), clip(d.box[2], width), clip(d.box[3], height)] as [number, number, number, number] }));
  });
}

/** COCO results for per-image detections; `categoryIds[c]` is class c's COCO id (default c + 1). */
export function cocoResults(detections: readonly ImageDetection[][], imageIds: readonly number[], categoryIds?: readonly number[]): CocoResult[] {
  const round = (v: number) => Math.round(v * 100) / 100;
  return detections.flatMap((dets, i) =>
    dets.map((d) => ({
      image_id: imageIds[i]!,
      category_id: categoryIds?.[d.classIndex] ?? d.classIndex + 1,
      bbox: [round(d.box[0]), round(d.box[1]), round(d.box[2] - d.box[0]), round(d.box[3] - d.box[1])] as [number, number, number, number],
      score: Math.round(d.score * 1e5) / 1e5,
    })),
  );
}
