// COCO AP and oLRP of an exported detector on COCO samples: ranksort's decode and NMS of the raw heads.

import { prepareImage } from "../data/batch.ts";
import type { CocoDataset } from "../data/coco.ts";
import { readImage } from "../data/image.ts";
import { RankSortSession } from "../runtime/session.ts";
import { adapterNormalisation, anchorLayout, checkAdapterFitsModel, classChannels, decodeForAdapter, type DetectorAdapter } from "./adapter.ts";
import { cocoMetrics, type Detection, type GroundTruth, olrp } from "./evaluate.ts";
import { postprocess } from "./postprocess.ts";

/** COCO AP and oLRP of `modelBytes` on `samples` (original image coordinates). */
export async function evaluateDetector(modelBytes: Uint8Array, adapter: DetectorAdapter, samples: CocoDataset["samples"], batch = 8): Promise<{ metrics: ReturnType<typeof cocoMetrics>; oLRP: number; detections: Detection[] }> {
  const layout = anchorLayout(adapter);
  const session = await RankSortSession.create(modelBytes, { executionProvider: "cpu" });
  checkAdapterFitsModel(adapter, session.outputNames.map((name) => ({ name })));
  const C = adapter.numClasses;
  const N = layout.strides.length;
  const detections: Detection[] = [];
  const gts: GroundTruth[] = [];
  for (let i = 0; i < samples.length; i += batch) {
    const chunk = samples.slice(i, i + batch);
    const S = adapter.imageSize;
    const images = new Float32Array(chunk.length * 3 * S * S);
    const scales: number[] = [];
    chunk.forEach((s, b) => {
      const prep = prepareImage(readImage(s.path), s.boxes, S, adapterNormalisation(adapter));
      images.set(prep.pixels, b * 3 * S * S);
      scales.push(prep.scale);
      for (let k = 0; k < s.classes.length; k++) gts.push({ image: s.imageId, category: s.classes[k]!, box: Array.from(s.boxes.subarray(4 * k, 4 * k + 4)) as [number, number, number, number] });
    });
    const out = await session.run({ images: { type: "float32", data: images, dims: [chunk.length, 3, S, S] } });
    chunk.forEach((s, b) => {
      const scores = new Float32Array(N * C);
      const reg = new Float32Array(N * 4);
      let offset = 0;
      adapter.levels.forEach((l) => {
        const cls = out[l.classes]!;
        const box = out[l.boxes]!;
        const [H, W] = [cls.dims[2]!, cls.dims[3]!];
        const K = classChannels(adapter);
        const skip = K - C; // a background logit first (SSD)
        const A = cls.dims[1]! / K; // anchors per location; channel = a·K + c, anchor order (y, x, a)
        const cd = cls.data as Float32Array;
        const bd = box.data as Float32Array;
        for (let p = 0; p < H * W; p++) {
          for (let a = 0; a < A; a++) {
            const row = offset + p * A + a;
            for (let c = 0; c < C; c++) scores[row * C + c] = 1 / (1 + Math.exp(-cd[(b * A * K + a * K + skip + c) * H * W + p]!));
            for (let k = 0; k < 4; k++) reg[row * 4 + k] = bd[(b * A * 4 + a * 4 + k) * H * W + p]!;
          }
        }
        offset += H * W * A;
      });
      const boxes = decodeForAdapter(adapter, reg, layout);
      for (const d of postprocess(scores, boxes, C)) {
        const k = 1 / scales[b]!;
        detections.push({ image: s.imageId, category: d.classIndex, score: d.score, box: [d.box[0] * k, d.box[1] * k, d.box[2] * k, d.box[3] * k] });
      }
    });
  }
  return { metrics: cocoMetrics(detections, gts), oLRP: olrp(detections, gts).oLRP, detections };
}

