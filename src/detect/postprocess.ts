// Detections from scores and boxes: score threshold, per-class greedy NMS, top-k.

import { iou } from "./boxes.ts";

export interface RawDetection {
  box: [number, number, number, number];
  score: number;
  classIndex: number;
}

/** scores [N, C] (probabilities), boxes [N, 4]. */
export function postprocess(scores: Float32Array, boxes: Float32Array, numClasses: number, opts = { scoreThreshold: 0.05, nmsIoU: 0.6, maxDetections: 100 }): RawDetection[] {
  const N = boxes.length / 4;
  const kept: RawDetection[] = [];
  for (let c = 0; c < numClasses; c++) {
    const cand: number[] = [];
    for (let i = 0; i < N; i++) if (scores[i * numClasses + c]! >= opts.scoreThreshold) cand.push(i);
    cand.sort((a, b) => scores[b * numClasses + c]! - scores[a * numClasses + c]!);
    const chosen: number[] = [];
    for (const i of cand) {
      if (chosen.every((j) => iou(boxes, i, boxes, j) <= opts.nmsIoU)) chosen.push(i);
      if (chosen.length >= opts.maxDetections) break;
    }
    for (const i of chosen) kept.push({ box: [boxes[4 * i]!, boxes[4 * i + 1]!, boxes[4 * i + 2]!, boxes[4 * i + 3]!], score: scores[i * numClasses + c]!, classIndex: c });
  }
  kept.sort((a, b) => b.score - a.score);
  return kept.slice(0, opts.maxDetections);
}
