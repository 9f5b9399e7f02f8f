// The smoothed step H(x) of the paper and the geometry of its windows over sorted positive logits.
//
// H(x) = clamp(x / (2δ) + 0.5, 0, 1) for δ > 0. It is piecewise linear: 1 for x ≥ δ, 0 for x ≤ −δ,
// and α + β·x in between (α = 0.5, β = 1/(2δ)). For δ = 0 it is a step whose value at x = 0 is
// `tieValue` (RankSort: 1, from `x >= 0`; AP/aLRP: 0.5, the δ → 0 limit, see the kernel doc), so
// the "window" is the set of exact ties with constant weight α = tieValue and β = 0.
//
// All logits are centred on the smallest positive logit before any sum is formed: relevant
// values then lie near 0, which keeps prefix sums free of cancellation at detection sizes.

import { sortedOrder } from "./sort_order.ts";

export interface StepShape {
  readonly delta: number;
  /** Window weight at x = 0 offset: H(x) = alpha + beta·x inside the window. */
  readonly alpha: number;
  readonly beta: number;
}

export function stepShape(delta: number, tieValue: number): StepShape {
  return delta > 0 ? { delta, alpha: 0.5, beta: 1 / (2 * delta) } : { delta: 0, alpha: tieValue, beta: 0 };
}

/** Plain evaluation of H, used where a single value is needed. */
export function stepValue(shape: StepShape, x: number): number {
  if (shape.delta > 0) {
    const h = shape.alpha + shape.beta * x;
    return h <= 0 ? 0 : h >= 1 ? 1 : h;
  }
  return x > 0 ? 1 : x < 0 ? 0 : shape.alpha;
}

/** Number of entries of ascending `a` that are < x. */
export function countLess(a: Float64Array, x: number): number {
  const n = a.length;
  if (n === 0 || x <= a[0]!) return 0;
  if (x > a[n - 1]!) return n;
  let lo = 1;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Number of entries of ascending `a` that are <= x. */
export function countLessOrEqual(a: Float64Array, x: number): number {
  const n = a.length;
  if (n === 0 || x < a[0]!) return 0;
  if (x >= a[n - 1]!) return n;
  let lo = 1;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Positives sorted by logit (ascending; ties keep flattened order), centred on the smallest one.
 * `sorted[r]` is the centred logit of the positive of rank r; `order[r]` its positive ordinal;
 * `rankOf[p]` the rank of positive ordinal p.
 */
export interface SortedPositives {
  readonly centre: number;
  readonly sorted: Float64Array;
  readonly order: Int32Array;
  readonly rankOf: Int32Array;
}

export function sortPositives(positiveLogit: Float64Array): SortedPositives {
  const count = positiveLogit.length;
  const order = sortedOrder(positiveLogit);
  const centre = count > 0 ? positiveLogit[order[0]!]! : 0;
  const sorted = new Float64Array(count);
  const rankOf = new Int32Array(count);
  for (let r = 0; r < count; r++) {
    const p = order[r]!;
    sorted[r] = positiveLogit[p]! - centre;
    rankOf[p] = r;
  }
  return { centre, sorted, order, rankOf };
}

/**
 * Ranks [lo, hi) of the positives whose centred logit q satisfies |q − v| < δ (δ > 0), or q == v
 * (δ = 0). Below lo, H(v − q) = 1 and H(q − v) = 0; from hi on, the opposite.
 */
export function windowLow(sorted: Float64Array, shape: StepShape, v: number): number {
  return shape.delta > 0 ? countLessOrEqual(sorted, v - shape.delta) : countLess(sorted, v);
}

export function windowHigh(sorted: Float64Array, shape: StepShape, v: number): number {
  return shape.delta > 0 ? countLess(sorted, v + shape.delta) : countLessOrEqual(sorted, v);
}


/**
 * Counting searches over a sorted array: a uniform grid of 8n cells over its range stores, per cell,
 * how many values lie below the cell. That count is the answer unless a value lies between the cell
 * edge and the query, which two comparisons detect and a short walk fixes; with 8 cells per value
 * most cells are empty, so a search costs O(1) expected instead of ~log2(n) unpredictable branches.
 * The walk falls back to binary search when values cluster.
 */
export class SearchGrid {
  private readonly cells: number;
  private readonly origin: number;
  private readonly invWidth: number;
  /** start[b] = number of values < origin + b·width. */
  private readonly start: Int32Array;

  constructor(private readonly sorted: Float64Array) {
    const n = sorted.length;
    const span = n > 0 ? sorted[n - 1]! - sorted[0]! : 0;
    this.cells = span > 0 ? Math.max(1, Math.min(8 * n, 1 << 22)) : 1;
    this.origin = n > 0 ? sorted[0]! : 0;
    const width = span > 0 ? span / this.cells : 1;
    this.invWidth = 1 / width;
    this.start = new Int32Array(this.cells + 1);
    for (let b = 0, r = 0; b <= this.cells; b++) {
      const edge = this.origin + b * width;
      while (r < n && sorted[r]! < edge) r++;
      this.start[b] = r;
    }
  }

  /** A guess at the answer from the grid: exact unless a value lies between the cell edge and x. */
  private guess(x: number): number {
    let b = Math.floor((x - this.origin) * this.invWidth);
    b = b < 0 ? 0 : b > this.cells ? this.cells : b;
    return this.start[b]!;
  }

  /** Number of values <= x. */
  countLessOrEqual(x: number): number {
    const a = this.sorted;
    const n = a.length;
    let c = this.guess(x);
    for (let steps = 0; c < n && a[c]! <= x; c++) if (++steps > 16) return boundFrom(a, x, c, n, true);
    while (c > 0 && a[c - 1]! > x) c--;
    return c;
  }

  /** Number of values < x. */
  countLess(x: number): number {
    const a = this.sorted;
    const n = a.length;
    let c = this.guess(x);
    for (let steps = 0; c < n && a[c]! < x; c++) if (++steps > 16) return boundFrom(a, x, c, n, false);
    while (c > 0 && a[c - 1]! >= x) c--;
    return c;
  }
}

/** First index in [lo, hi) whose value is not < x (not <= x when inclusive); hi if none. */
function boundFrom(a: Float64Array, x: number, lo: number, hi: number, inclusive: boolean): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (inclusive ? a[mid]! <= x : a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
