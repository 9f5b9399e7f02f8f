// Label assignment: which anchors (or points) are positives for which ground-truth box.
// Result per anchor: the ground-truth index (≥ 0), NEGATIVE, or IGNORED.

import { type Boxes, boxCount, iou } from "./boxes.ts";

export const NEGATIVE = -1;
export const IGNORED = -2;

export interface Assignment {
  /** Per anchor: assigned gt index, NEGATIVE or IGNORED. */
  gt: Int32Array;
  /** Per anchor: IoU with its assigned gt (0 otherwise). */
  iou: Float32Array;
}

function centre(b: Boxes, i: number): [number, number] {
  return [(b[4 * i]! + b[4 * i + 2]!) / 2, (b[4 * i + 1]! + b[4 * i + 3]!) / 2];
}

/**
 * ATSS (Zhang et al., CVPR 2020; mmdetection's ATSSAssigner): per gt, the k anchors per level
 * closest to its centre are candidates; positives are candidates whose IoU reaches the candidates'
 * mean + std (unbiased) and whose centre lies inside the gt (by more than 0.01); an anchor claimed
 * by several gts goes to the one it overlaps most.
 */
export function assignATSS(anchors: Boxes, anchorsPerLevel: readonly number[], gts: Boxes, topk = 9): Assignment {
  const A = boxCount(anchors);
  const G = boxCount(gts);
  const gt = new Int32Array(A).fill(NEGATIVE);
  const bestIoU = new Float32Array(A);
  if (anchorsPerLevel.reduce((a, b) => a + b, 0) !== A) throw new RangeError(`anchorsPerLevel sums to ${anchorsPerLevel.reduce((a, b) => a + b, 0)}, but there are ${A} anchors`);
  for (let g = 0; g < G; g++) {
    const [gx, gy] = centre(gts, g);
    const candidates: number[] = [];
    let start = 0;
    for (const count of anchorsPerLevel) {
      const idx = Array.from({ length: count }, (_, i) => start + i);
      // Squared distance: + − × are correctly rounded everywhere, while Math.hypot differs in the last
      // bit between JavaScript engines — and grid anchors tie, so that bit picked different
      // candidates (and different training targets) in Bun and Deno.
      const dist = (i: number) => {
        const [ax, ay] = centre(anchors, i);
        const dx = ax - gx;
        const dy = ay - gy;
        return dx * dx + dy * dy;
      };
      idx.sort((a, b) => dist(a) - dist(b) || a - b);
      candidates.push(...idx.slice(0, Math.min(topk, count)));
      start += count;
    }
    const ious = candidates.map((i) => iou(anchors, i, gts, g));
    const mean = ious.reduce((a, b) => a + b, 0) / ious.length;
    const std = ious.length > 1 ? Math.sqrt(ious.reduce((a, b) => a + (b - mean) * (b - mean), 0) / (ious.length - 1)) : 0;
    const threshold = mean + std;
    candidates.forEach((i, k) => {
      const v = ious[k]!;
      if (v < threshold) return;
      const [ax, ay] = centre(anchors, i);
      const inside = Math.min(ax - gts[4 * g]!, ay - gts[4 * g + 1]!, gts[4 * g + 2]! - ax, gts[4 * g + 3]! - ay) > 0.01;
      if (!inside) return;
      if (gt[i] === NEGATIVE || v > bestIoU[i]!) {
        gt[i] = g;
        bestIoU[i] = v;
      }
    });
  }
  return { gt, iou: bestIoU };
}

export interface MaxIoUOptions {
  /** Positive when the best IoU ≥ this (RetinaNet 0.5). */
  posIoU: number;
  /** Negative when the best IoU < this (RetinaNet 0.4); in between is ignored. */
  negIoU: number;
  /** Each gt also claims its best-overlapping anchors when that IoU ≥ this (RetinaNet 0). */
  minPosIoU: number;
}

/** Max-IoU assignment (RetinaNet, SSD; mmdetection's MaxIoUAssigner with gt_max_assign_all). */
export function assignMaxIoU(anchors: Boxes, gts: Boxes, opts: MaxIoUOptions = { posIoU: 0.5, negIoU: 0.4, minPosIoU: 0 }): Assignment {
  const A = boxCount(anchors);
  const G = boxCount(gts);
  const gt = new Int32Array(A).fill(NEGATIVE);
  const best = new Float32Array(A);
  if (G === 0) return { gt, iou: best };
  const overlaps = new Float32Array(A * G);
  for (let a = 0; a < A; a++) {
    let arg = 0;
    for (let g = 0; g < G; g++) {
      const v = iou(anchors, a, gts, g);
      overlaps[a * G + g] = v;
      if (v > overlaps[a * G + arg]!) arg = g;
    }
    const v = overlaps[a * G + arg]!;
    best[a] = v;
    gt[a] = v >= opts.posIoU ? arg : v < opts.negIoU ? NEGATIVE : IGNORED;
  }
  for (let g = 0; g < G; g++) {
    let max = 0;
    for (let a = 0; a < A; a++) max = Math.max(max, overlaps[a * G + g]!);
    if (max < opts.minPosIoU || max === 0) continue;
    for (let a = 0; a < A; a++) {
      if (overlaps[a * G + g] === max) {
        gt[a] = g;
        best[a] = max;
      }
    }
  }
  for (let a = 0; a < A; a++) if (gt[a]! < 0) best[a] = 0;
  return { gt, iou: best };
}

/**
 * Classification targets [anchors × classes] for RS/AP/focal losses: 1 at (anchor, class of its gt)
 * for positives, 0 elsewhere, −1 in every class of an ignored anchor.
 */
export function classTargets(assignment: Assignment, gtClasses: Int32Array, numClasses: number): Float32Array {
  const A = assignment.gt.length;
  const out = new Float32Array(A * numClasses);
  for (let a = 0; a < A; a++) {
    const g = assignment.gt[a]!;
    if (g === IGNORED) out.fill(-1, a * numClasses, (a + 1) * numClasses);
    else if (g >= 0) {
      const c = gtClasses[g]!;
      if (!(c >= 0 && c < numClasses)) throw new RangeError(`gt ${g} has class ${c}, outside [0, ${numClasses})`);
      out[a * numClasses + c] = 1;
    }
  }
  return out;
}

/**
 * Anchors on crowd regions (and `ignore: 1` annotations) become IGNORED instead of negatives: an
 * anchor the assigner left negative whose intersection with a region covers more than `iofThreshold`
 * of the anchor's own area. That is intersection over the anchor, the overlap pycocotools uses for a
 * detection on a crowd region, and mmdetection's `ignore_iof_thr` test against `gt_bboxes_ignore`
 * (its usual value 0.5 is the default here). Unlike mmdetection, which removes such anchors before
 * assigning, an anchor made positive for an ordinary object stays positive: a person in front of a
 * crowd keeps its targets.
 */
export function ignoreCrowdAnchors(assignment: Assignment, anchors: Boxes, regions: Boxes, iofThreshold = 0.5): Assignment {
  const R = boxCount(regions);
  if (R === 0) return assignment;
  const gt = Int32Array.from(assignment.gt);
  for (let a = 0; a < gt.length; a++) {
    if (gt[a] !== NEGATIVE) continue;
    const own = (anchors[4 * a + 2]! - anchors[4 * a]!) * (anchors[4 * a + 3]! - anchors[4 * a + 1]!);
    if (!(own > 0)) continue;
    for (let r = 0; r < R; r++) {
      const w = Math.min(anchors[4 * a + 2]!, regions[4 * r + 2]!) - Math.max(anchors[4 * a]!, regions[4 * r]!);
      const h = Math.min(anchors[4 * a + 3]!, regions[4 * r + 3]!) - Math.max(anchors[4 * a + 1]!, regions[4 * r + 1]!);
      if (w > 0 && h > 0 && (w * h) / own > iofThreshold) {
        gt[a] = IGNORED;
        break;
      }
    }
  }
  return { gt, iou: assignment.iou };
}
