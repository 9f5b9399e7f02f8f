// COCO AP and oLRP of an exported detector on COCO samples: ranksort's decode and NMS of the raw heads.

import type { CocoDataset } from "../data/coco.ts";
import { readImage } from "../data/image.ts";
import type { DetectorAdapter } from "./adapter.ts";
import { cocoMetrics, type Detection, type GroundTruth, olrp } from "./evaluate.ts";
import { DetectorRunner } from "./run_detector.ts";

/** COCO AP and oLRP of `modelBytes` on `samples` (original image coordinates). */
export async function evaluateDetector(modelBytes: Uint8Array, adapter: DetectorAdapter, samples: CocoDataset["samples"], batch = 8): Promise<{ metrics: ReturnType<typeof cocoMetrics>; oLRP: number; detections: Detection[] }> {
  const runner = await DetectorRunner.create(modelBytes, adapter, { batch });
  const detections: Detection[] = [];
  const gts: GroundTruth[] = [];
  for (let i = 0; i < samples.length; i += batch) {
    const chunk = samples.slice(i, i + batch);
    const found = await runner.detect(chunk.map((s) => readImage(s.path)));
    chunk.forEach((s, b) => {
      for (let k = 0; k < s.classes.length; k++) gts.push({ image: s.imageId, category: s.classes[k]!, box: Array.from(s.boxes.subarray(4 * k, 4 * k + 4)) as [number, number, number, number] });
      for (const d of found[b]!) detections.push({ image: s.imageId, category: d.classIndex, score: d.score, box: d.box });
    });
  }
  return { metrics: cocoMetrics(detections, gts), oLRP: olrp(detections, gts).oLRP, detections };
}
