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
 * Counting searches over a sorted array in O(1) without data-dependent branches: a uniform grid of
 * cells over its range, each value filed under the cell that the query's own formula gives it, so
 * that (the formula being monotone in x) every value in an earlier cell is < x and every value in a
 * later one > x. A query reads its cell's count of earlier values and compares x with the cell's
 * first two values; the few cells holding more than two values (clusters, ties) are marked and
 * searched by bisection. Used once per relevant negative, so the common path must not mispredict.
 */
export class SearchGrid {
  private readonly cells: number;
  private readonly origin: number;
  private readonly invWidth: number;
  /** Per cell: the number of values in earlier cells, bitwise-inverted (< 0) when it holds more than two. */
  private readonly start: Int32Array;
  /** The sorted values and two NaN (no x is >= NaN), so a query may read two past its cell's start. */
  private readonly padded: Float64Array;
  private readonly size: number;

  constructor(sorted: Float64Array, cellsPerValue = 4) {
    const n = sorted.length;
    this.size = n;
    const span = n > 0 ? sorted[n - 1]! - sorted[0]! : 0;
    this.cells = span > 0 && Number.isFinite(span) ? Math.max(1, Math.min(cellsPerValue * n, 1 << 22)) : 1;
    this.origin = n > 0 ? sorted[0]! : 0;
    this.invWidth = this.cells > 1 ? this.cells / span : 0;
    this.padded = new Float64Array(n + 2);
    this.padded.set(sorted);
    this.padded[n] = NaN;
    this.padded[n + 1] = NaN;
    const start = new Int32Array(this.cells);
    let b = 0; // cells [0, b) are filled
    let cell = -1;
    let first = 0; // index of the first value in `cell`
    for (let r = 0; r < n; r++) {
      const c = this.cellOf(sorted[r]!);
      if (c !== cell) {
        while (b <= c) start[b++] = r;
        cell = c;
        first = r;
      } else if (r - first === 2) {
        start[c] = ~first; // a third value: this cell is searched by bisection
      }
    }
    while (b < this.cells) start[b++] = n;
    this.start = start;
  }

  /** The cell of x: non-decreasing in x (a rounded subtract, a rounded multiply, clamps). */
  private cellOf(x: number): number {
    const f = (x - this.origin) * this.invWidth;
    return f > 0 ? (f < this.cells ? f | 0 : this.cells - 1) : 0;
  }

  /** Number of values <= x (x not NaN). */
  countLessOrEqual(x: number): number {
    const c = this.start[this.cellOf(x)]!;
    if (c < 0) return firstAbove(this.padded, x, ~c, this.size);
    const a = this.padded;
    return c + +(x >= a[c]!) + +(x >= a[c + 1]!);
  }
}

/** First index in [lo, hi) of ascending `a` whose value is > x; hi if none. */
function firstAbove(a: Float64Array, x: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
