// Detections from scores and boxes: the top candidates by score, score threshold, per-class greedy
// NMS, top-k. Rank-based losses (RS, AP) order scores without calibrating their level, so the
// default threshold is low and the candidate cap does the pruning.

import { iou } from "./boxes.ts";

export interface RawDetection {
  box: [number, number, number, number];
  score: number;
  classIndex: number;
}

/** scores [N, C] (probabilities), boxes [N, 4]. */
export interface PostprocessOptions {
  scoreThreshold: number;
  nmsIoU: number;
  maxDetections: number;
  /** Candidates (anchor, class) kept before NMS, highest scores first. */
  preNmsTopK: number;
}

export const DEFAULT_POSTPROCESS: PostprocessOptions = { scoreThreshold: 0.001, nmsIoU: 0.6, maxDetections: 100, preNmsTopK: 1000 };

/** Scores and decoded boxes → detections: score threshold, top candidates, per-class NMS, a cap. */
export function postprocess(scores: Float32Array, boxes: Float32Array, numClasses: number, opts: PostprocessOptions = DEFAULT_POSTPROCESS): RawDetection[] {
  const N = boxes.length / 4;
  const kept: RawDetection[] = [];
  // The preNmsTopK best (anchor, class) pairs above the threshold.
  const all: number[] = [];
  for (let k = 0; k < N * numClasses; k++) if (scores[k]! >= opts.scoreThreshold) all.push(k);
  all.sort((a, b) => scores[b]! - scores[a]!);
  const top = all.slice(0, opts.preNmsTopK);
  for (let c = 0; c < numClasses; c++) {
    const cand: number[] = [];
    for (const k of top) if (k % numClasses === c) cand.push(Math.floor(k / numClasses));
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
