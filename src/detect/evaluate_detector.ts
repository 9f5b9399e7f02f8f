// COCO AP and oLRP of an exported detector on COCO samples: ranksort's decode and NMS of the raw heads.

import type { CocoDataset } from "../data/coco.ts";
import { readImage } from "../data/image.ts";
import type { ExecutionProvider } from "../runtime/session.ts";
import type { DetectorAdapter } from "./adapter.ts";
import { cocoMetrics, type COCOMetrics, type Detection, type GroundTruth } from "./evaluate.ts";
import { DetectorRunner } from "./run_detector.ts";

/** COCO AP and oLRP of `modelBytes` on `samples` (original image coordinates). */
/** `label` names the model in errors (its file name); `executionProvider` runs it (a page: "wasm" or "webgpu"). */
export async function evaluateDetector(modelBytes: Uint8Array, adapter: DetectorAdapter, samples: CocoDataset["samples"], batch = 8, label = "model", executionProvider: ExecutionProvider = "cpu"): Promise<{ metrics: COCOMetrics; oLRP: number; detections: Detection[] }> {
  const runner = await DetectorRunner.create(modelBytes, adapter, { batch, label, executionProvider });
  const detections: Detection[] = [];
  const gts: GroundTruth[] = [];
  try {
    for (let i = 0; i < samples.length; i += batch) {
      const chunk = samples.slice(i, i + batch);
      const found = await runner.detect(chunk.map((s) => readImage(s.path)));
      chunk.forEach((s, b) => {
        // The file's own annotations (crowds included, float64 COCO boxes): pycocotools' ground truth.
        for (const a of s.annotations) gts.push({ image: s.imageId, category: a.classIndex, box: [a.bbox[0], a.bbox[1], a.bbox[0] + a.bbox[2], a.bbox[1] + a.bbox[3]], bbox: a.bbox, area: a.area, iscrowd: a.iscrowd, ignore: a.ignore });
        for (const d of found[b]!) detections.push({ image: s.imageId, category: d.classIndex, score: d.score, box: d.box });
      });
    }
  } finally {
    // A training run evaluates every epoch: each evaluation's session goes when it is done.
    await runner.release();
  }
  const metrics = cocoMetrics(detections, gts, { categories: Array.from({ length: runner.adapter.numClasses }, (_, c) => c) });
  return { metrics, oLRP: metrics.oLRP, detections };
}
