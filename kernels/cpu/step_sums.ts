// Sums of the smoothed step H over sets of positives, in O(log P) per query.
// See DERIVATION.md for the algebra.

import type { RangeSums } from "./range_sums.ts";
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
