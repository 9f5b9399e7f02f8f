// Sums of the smoothed step H over sets of positives, in O(log P) per query, and the one pass that
// lets every relevant negative contribute to every positive's false-positive count in O(log P).
// See DERIVATION.md for the algebra.

import { PrefixSums, type RangeSums } from "./range_sums.ts";
import { type SortedPositives, type StepShape, windowHigh, windowLow } from "./step_window.ts";

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
}

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
  let relevant = 0;
  const n = logits.length;
  for (let k = 0; k < n; k++) {
    const s = logits[k]!;
    if (targets[k] !== 0 || !(s >= threshold)) continue;
    relevant++;
    const v = s - centre;
    const lo = windowLow(sorted, shape, v);
    const hi = windowHigh(sorted, shape, v);
    fullStart[lo]!++;
    if (lo < hi) {
      windowStart[lo]!++;
      windowEnd[hi]!++;
      addCompensated(startHi, startLo, lo, v);
      addCompensated(endHi, endLo, hi, v);
    }
  }
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
    const add = [startHi[r]!, startLo[r]!, -endHi[r]!, -endLo[r]!];
    for (const x of add) {
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
  return { falsePositives, contributing, numRelevantNegatives: relevant };
}

/**
 * Gradient of every relevant negative k: scale · Σ_r weight_r · H(s_k − s_r), written to each
 * output array. Shared by RankSort, AP and aLRP (they differ only in the per-positive weight).
 */
// Inlined rather than calling sumStepBelow: this loop runs once per logit (up to 1e7 times).
export function scatterToNegatives(
  logits: Float32Array,
  targets: Float32Array,
  threshold: number,
  sp: SortedPositives,
  shape: StepShape,
  weight: Float64Array,
  scale: number,
  outputs: Float32Array[],
): void {
  const P = weight.length;
  const q = sp.sorted;
  const weightTimesLogit = new Float64Array(P);
  for (let r = 0; r < P; r++) weightTimesLogit[r] = weight[r]! * q[r]!;
  const sums = new PrefixSums([weight, weightTimesLogit]);
  const centre = sp.centre;
  const { alpha, beta } = shape;
  const n = logits.length;
  for (let k = 0; k < n; k++) {
    const s = logits[k]!;
    if (targets[k] !== 0 || !(s >= threshold)) continue;
    const v = s - centre;
    const lo = windowLow(q, shape, v);
    const hi = windowHigh(q, shape, v);
    let g = sums.sum(0, 0, lo);
    if (lo < hi) {
      const w = sums.sum(0, lo, hi);
      g += alpha * w + beta * (v * w - sums.sum(1, lo, hi));
    }
    g *= scale;
    for (const out of outputs) out[k] = g;
  }
}
