// Sums of the smoothed step H over sets of positives, in O(log P) per query, and the one pass that
// lets every relevant negative contribute to every positive's false-positive count in O(log P).
// See DERIVATION.md for the algebra.

import type { RangeSums } from "./range_sums.ts";
import { SearchGrid, type SortedPositives, type StepShape, windowHigh, windowLow } from "./step_window.ts";

/** Channel layout of a RangeSums: `count` (1 per positive present), weight w, and w·q. */
export interface WeightChannels {
  readonly count: number;
  readonly weight: number;
  readonly weightTimesLogit: number;
}

/**
 * Σ_j w_j · H(q_j − v) over the positives j present in `sums`: how much positives above v weigh
 * against a positive at v (its rank among positives, its sorting numerators).
 */
export function sumStepAbove(
  sums: RangeSums,
  ch: WeightChannels,
  sp: SortedPositives,
  shape: StepShape,
  v: number,
): number {
  const lo = windowLow(sp.sorted, shape, v);
  const hi = windowHigh(sp.sorted, shape, v);
  const full = sums.sum(ch.weight, hi, sp.sorted.length);
  if (sums.sum(ch.count, lo, hi) === 0) return full;
  const w = sums.sum(ch.weight, lo, hi);
  return full + shape.alpha * w + shape.beta * (sums.sum(ch.weightTimesLogit, lo, hi) - v * w);
}

/** Σ_j w_j · H(v − q_j): how much a value v receives from positives j at or below it. */
export function sumStepBelow(
  sums: RangeSums,
  ch: WeightChannels,
  sp: SortedPositives,
  shape: StepShape,
  v: number,
): number {
  const lo = windowLow(sp.sorted, shape, v);
  const hi = windowHigh(sp.sorted, shape, v);
  const full = sums.sum(ch.weight, 0, lo);
  if (sums.sum(ch.count, lo, hi) === 0) return full;
  const w = sums.sum(ch.weight, lo, hi);
  return full + shape.alpha * w + shape.beta * (v * w - sums.sum(ch.weightTimesLogit, lo, hi));
}

/** Count of positives j present in `sums` with H(q_j − v) > 0 (exact: counts are integers). */
export function countStepAbove(sums: RangeSums, countChannel: number, sp: SortedPositives, shape: StepShape, v: number): number {
  return sums.sum(countChannel, windowLow(sp.sorted, shape, v), sp.sorted.length);
}

export interface FalsePositiveCounts {
  /** FP_r = Σ_{relevant negatives k} H(s_k − s_r), indexed by positive rank. */
  readonly falsePositives: Float64Array;
  /** Number of relevant negatives with H(s_k − s_r) > 0, by rank (exact; zero means FP_r == 0). */
  readonly contributing: Float64Array;
  readonly numRelevantNegatives: number;
  /**
   * Per logit: 0 when it is not a relevant negative, else 1 + lo·65536 + hi for its window [lo, hi)
   * over positive ranks, so the gradient pass needs no second search. Absent when P > 65534.
   */
  readonly windows?: Uint32Array;
}

/** Largest P whose window bounds pack into FalsePositiveCounts.windows. */
const MAX_PACKED_POSITIVES = 65534;

// Knuth's TwoSum, accumulating the rounding error into a second array: each bin holds a
// double-double sum, so millions of logits add up without losing the small window terms.
function addCompensated(hi: Float64Array, lo: Float64Array, i: number, x: number): void {
  const a = hi[i]!;
  const s = a + x;
  const bb = s - a;
  lo[i]! += a - (s - bb) + (x - bb);
  hi[i] = s;
}

/**
 * FP for every positive, from one pass over the relevant negatives (target exactly 0 and logit
 * ≥ threshold): each negative adds 1 to the positives at least δ below it and a linear term to the
 * positives within δ, recorded as difference histograms over positive ranks and swept once.
 */
export function falsePositiveCounts(
  logits: Float32Array,
  targets: Float32Array,
  threshold: number,
  sp: SortedPositives,
  shape: StepShape,
): FalsePositiveCounts {
  const P = sp.sorted.length;
  const sorted = sp.sorted;
  const centre = sp.centre;
  const fullStart = new Float64Array(P + 1); // negatives whose full region ends at rank r
  const windowStart = new Float64Array(P + 1);
  const windowEnd = new Float64Array(P + 1);
  const startHi = new Float64Array(P + 1);
  const startLo = new Float64Array(P + 1);
  const endHi = new Float64Array(P + 1);
  const endLo = new Float64Array(P + 1);
  // Two cases dominate real data and are kept in registers instead of histogram bins: a window that
  // covers every positive (early training: all logits bunched together), and no contribution at all.
  const delta = shape.delta;
  const hard = delta === 0;
  const qLast = sorted[P - 1]!; // sorted[0] is 0: logits are centred on the smallest positive
  const grid = new SearchGrid(sorted);
  const windows = P <= MAX_PACKED_POSITIVES ? new Uint32Array(logits.length) : undefined;
  let coverAll = 0;
  let coverAllHi = 0;
  let coverAllLo = 0;
  let relevant = 0;
  const n = logits.length;
  for (let k = 0; k < n; k++) {
    const s = logits[k]!;
    if (targets[k] !== 0 || !(s >= threshold)) continue;
    relevant++;
    const v = s - centre;
    // windowHigh/windowLow with their common outcomes decided inline (this loop is the hot path).
    const up = v + delta;
    const hi = up > qLast || (hard && up === qLast) ? P : up < 0 || (!hard && up === 0) ? 0 : hard ? grid.countLessOrEqual(up) : grid.countLess(up);
    if (hi === 0) {
      if (windows) windows[k] = 1;
      continue;
    }
    const down = v - delta;
    const lo = down < 0 || (hard && down === 0) ? 0 : hard ? grid.countLess(down) : grid.countLessOrEqual(down);
    if (windows) windows[k] = 1 + lo * 65536 + hi;
    if (lo === 0 && hi === P) {
      coverAll++;
      const t = coverAllHi + v;
      const bb = t - coverAllHi;
      coverAllLo += coverAllHi - (t - bb) + (v - bb);
      coverAllHi = t;
      continue;
    }
    fullStart[lo]!++;
    if (lo < hi) {
      windowStart[lo]!++;
      windowEnd[hi]!++;
      addCompensated(startHi, startLo, lo, v);
      addCompensated(endHi, endLo, hi, v);
    }
  }
  windowStart[0]! += coverAll;
  windowEnd[P]! += coverAll;
  addCompensated(startHi, startLo, 0, coverAllHi);
  addCompensated(startHi, startLo, 0, coverAllLo);
  const falsePositives = new Float64Array(P);
  const contributing = new Float64Array(P);
  // Full region: positive r counts negatives with lo > r (suffix sum).
  let fullAbove = 0;
  for (let r = P - 1; r >= 0; r--) {
    fullAbove += fullStart[r + 1]!;
    falsePositives[r] = fullAbove;
    contributing[r] = fullAbove;
  }
  // Window region: running counts and double-double running sums of v over open windows.
  let count = 0;
  let sumHi = 0;
  let sumLo = 0;
  for (let r = 0; r < P; r++) {
    count += windowStart[r]! - windowEnd[r]!;
    for (const x of [startHi[r]!, startLo[r]!, -endHi[r]!, -endLo[r]!]) {
      const s = sumHi + x;
      const bb = s - sumHi;
      sumLo += sumHi - (s - bb) + (x - bb);
      sumHi = s;
    }
    if (count > 0) {
      const sumV = sumHi + sumLo;
      falsePositives[r]! += shape.alpha * count + shape.beta * (sumV - sorted[r]! * count);
      contributing[r]! += count;
    }
  }
  return { falsePositives, contributing, numRelevantNegatives: relevant, windows };
}

/**
 * Gradient of every relevant negative k: scale · Σ_r weight_r · H(s_k − s_r), written to `out` (and
 * `alsoTo` when given). Shared by RankSort, AP and aLRP (they differ only in the per-positive weight).
 * Reuses the window bounds of the false-positive pass when it recorded them.
 * Inlined rather than calling sumStepBelow: this loop runs once per logit (up to 1e7 times).
 */
export function scatterToNegatives(
  logits: Float32Array,
  targets: Float32Array,
  threshold: number,
  sp: SortedPositives,
  shape: StepShape,
  fp: FalsePositiveCounts,
  weight: Float64Array,
  scale: number,
  out: Float32Array,
  alsoTo?: Float32Array,
): void {
  const P = weight.length;
  const q = sp.sorted;
  // Prefix sums of w and w·q, pre-scaled so the loop does no extra multiply.
  const W = new Float64Array(P + 1);
  const WQ = new Float64Array(P + 1);
  for (let r = 0; r < P; r++) {
    W[r + 1] = W[r]! + weight[r]! * scale;
    WQ[r + 1] = WQ[r]! + weight[r]! * scale * q[r]!;
  }
  const centre = sp.centre;
  const { alpha, beta, delta } = shape;
  const hard = delta === 0;
  const qLast = q[P - 1]!;
  const windows = fp.windows;
  const grid = windows ? undefined : new SearchGrid(q);
  // A window over every positive is the common case early in training: g = base + slope·v.
  const coverAllBase = alpha * W[P]! - beta * WQ[P]!;
  const coverAllSlope = beta * W[P]!;
  const n = logits.length;
  for (let k = 0; k < n; k++) {
    let lo: number;
    let hi: number;
    let v: number;
    if (windows) {
      const code = windows[k]!;
      if (code === 0) continue;
      lo = (code - 1) >>> 16;
      hi = (code - 1) & 0xffff;
      v = logits[k]! - centre;
    } else {
      const s = logits[k]!;
      if (targets[k] !== 0 || !(s >= threshold)) continue;
      v = s - centre;
      const up = v + delta;
      hi = up > qLast || (hard && up === qLast) ? P : up < 0 || (!hard && up === 0) ? 0 : hard ? grid!.countLessOrEqual(up) : grid!.countLess(up);
      const down = v - delta;
      lo = down < 0 || (hard && down === 0) ? 0 : hard ? grid!.countLess(down) : grid!.countLessOrEqual(down);
    }
    let g: number;
    if (lo === 0 && hi === P) g = coverAllBase + coverAllSlope * v;
    else {
      g = W[lo]!;
      if (lo < hi) {
        const w = W[hi]! - g;
        g += alpha * w + beta * (v * w - (WQ[hi]! - WQ[lo]!));
      }
    }
    out[k] = g;
    if (alsoTo) alsoTo[k] = g;
  }
}
