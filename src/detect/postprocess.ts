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
  /** Where preNmsTopK applies: the whole image (default), each level (torchvision RetinaNet/FCOS) or each class (SSD). */
  topKPer?: "image" | "level" | "class";
  /** Clip boxes to [0, size] before NMS (torchvision). */
  clipTo?: number;
  /** Keep scores > threshold (torchvision) instead of ≥. */
  strictThreshold?: boolean;
}

export const DEFAULT_POSTPROCESS: PostprocessOptions = { scoreThreshold: 0.001, nmsIoU: 0.6, maxDetections: 100, preNmsTopK: 1000 };

/**
 * Scores and decoded boxes → detections: score threshold, top candidates, per-class NMS, a cap.
 * `levelSizes`: anchors per level, in order (needed when topKPer is "level").
 */
export function postprocess(scores: Float32Array, rawBoxes: Float32Array, numClasses: number, opts: PostprocessOptions = DEFAULT_POSTPROCESS, levelSizes?: readonly number[]): RawDetection[] {
  const N = rawBoxes.length / 4;
  const boxes = opts.clipTo === undefined ? rawBoxes : rawBoxes.map((v) => Math.min(Math.max(v, 0), opts.clipTo!));
  const kept: RawDetection[] = [];
  const passes = opts.strictThreshold ? (v: number) => v > opts.scoreThreshold : (v: number) => v >= opts.scoreThreshold;
  // The preNmsTopK best (anchor, class) pairs above the threshold, per image, level or class.
  const groups: [number, number][] = opts.topKPer === "level" ? levelRanges(levelSizes ?? [N], numClasses) : [[0, N * numClasses]];
  const top: number[] = [];
  for (const [from, to] of groups) {
    if (opts.topKPer === "class") {
      for (let c = 0; c < numClasses; c++) {
        const cand: number[] = [];
        for (let k = c; k < N * numClasses; k += numClasses) if (passes(scores[k]!)) cand.push(k);
        cand.sort((a, b) => scores[b]! - scores[a]!);
        top.push(...cand.slice(0, opts.preNmsTopK));
      }
      continue;
    }
    const cand: number[] = [];
    for (let k = from; k < to; k++) if (passes(scores[k]!)) cand.push(k);
    cand.sort((a, b) => scores[b]! - scores[a]!);
    top.push(...cand.slice(0, opts.preNmsTopK));
  }
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

function levelRanges(levelSizes: readonly number[], numClasses: number): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (const n of levelSizes) {
    out.push([start * numClasses, (start + n) * numClasses]);
    start += n;
  }
  return out;
}
