// Input checking and classification shared by the RankSort, AP and aLRP kernels.
// Every rejected input throws a RankSortInputError that names the tensor, the index and the value.

/** Bad loss input (length mismatch, non-finite logit, NaN target, δ < 0, …), naming the tensor, index and value. */
export class RankSortInputError extends Error {
  override name = "RankSortInputError";
}

/** Which target values count as positives for a loss. */
export type PositiveRule = "greater-than-zero" | "exactly-one";

export interface Classified {
  /** Flattened index of every positive, in flattened order. */
  positiveIndex: Int32Array;
  /** Logit of each positive (flattened order), as float64. */
  positiveLogit: Float64Array;
  /** Target of each positive (flattened order), as float64. */
  positiveTarget: Float64Array;
  /** Smallest positive logit (NaN when there is no positive). */
  minPositiveLogit: number;
  /**
   * Ascending indices of every entry that is not a negative (positives and ignored entries), so
   * that the passes over the negatives need not read the targets again; undefined when there are
   * more than N/8 of them (the passes then read the targets).
   */
  nonNegatives: Int32Array | undefined;
}

type NumericArray = Float32Array | Float64Array | ArrayLike<number>;

/** Copy to a Float32Array unless it already is one; float32 is the storage type of the reference. */
export function asFloat32(name: string, values: NumericArray): Float32Array {
  if (values instanceof Float32Array) return values;
  if (values == null || typeof (values as ArrayLike<number>).length !== "number") {
    throw new RankSortInputError(`${name} must be a Float32Array or an array of numbers, got ${typeof values}`);
  }
  return Float32Array.from(values as ArrayLike<number>);
}

/**
 * The smallest positive δ: 2^-126, the smallest normal float32. Below it δ is 0 or subnormal in the
 * float32 ops and 1/(2δ) overflows (in float64 from δ < 2.78e-309), turning the losses into NaN.
 */
export const MIN_DELTA = 2 ** -126;

export function checkDelta(delta: number, lossName: string): number {
  if (typeof delta !== "number" || !Number.isFinite(delta) || delta < 0) {
    throw new RankSortInputError(`${lossName}: delta must be a finite number >= 0, got ${delta}`);
  }
  if (delta > 0 && delta < MIN_DELTA) throw new RankSortInputError(`${lossName}: delta must be 0 or >= ${MIN_DELTA.toExponential(3)} (2^-126), got ${delta}`);
  return delta;
}

export function checkEps(eps: number, lossName: string): number {
  if (typeof eps !== "number" || !Number.isFinite(eps) || eps < 0) {
    throw new RankSortInputError(`${lossName}: eps must be a finite number >= 0, got ${eps}`);
  }
  return eps;
}

/**
 * Validate targets and positive logits, and collect the positives.
 * Targets: positive by `rule`; exactly 0 is a negative; any value < 0 (−1 by convention) is ignored.
 * NaN targets are rejected (the reference silently ignores them, which hides upstream bugs).
 * Logits must be finite wherever the target is not ignored; ignored entries may hold anything.
 *
 * This pass reads only the targets (and the few positive logits). Negative logits are checked by
 * the kernels' false-positive pass, which reads them anyway (`checkNegativeLogits` when there is no
 * positive and no such pass); a problem found here is reported only after the negatives before it
 * are checked, so the error always names the first bad entry, as one fused pass would.
 */
export function classify(
  lossName: string,
  logits: Float32Array,
  targets: Float32Array,
  rule: PositiveRule,
): Classified {
  const n = logits.length;
  if (n === 0) throw new RankSortInputError(`${lossName}: logits is empty (expected at least one element)`);
  if (targets.length !== n) {
    throw new RankSortInputError(
      `${lossName}: logits has ${n} elements but targets has ${targets.length}; they must match element for element`,
    );
  }
  const exactlyOne = rule === "exactly-one";
  const found: number[] = [];
  const others: number[] = [];
  const maxOthers = n >>> 3;
  let min = Infinity;
  // Targets are mostly 0 (negatives): skip eight at a time by their bits (±0 are the only float32
  // values whose bits shifted left by one are 0), which costs a fraction of eight compare-and-branches.
  const bits = new Int32Array(targets.buffer, targets.byteOffset, n);
  for (let i = 0; i < n; i++) {
    if (i + 8 <= n && ((bits[i]! | bits[i + 1]! | bits[i + 2]! | bits[i + 3]! | bits[i + 4]! | bits[i + 5]! | bits[i + 6]! | bits[i + 7]!) << 1) === 0) {
      i += 7;
      continue;
    }
    const t = targets[i]!;
    if (t === 0) continue;
    if (t > 0) {
      if (exactlyOne ? t !== 1 : t === Infinity) {
        checkNegativeLogits(lossName, logits, targets, i);
        throw badPositiveTarget(lossName, rule, i, t);
      }
      const s = logits[i]!;
      if (!Number.isFinite(s)) {
        checkNegativeLogits(lossName, logits, targets, i);
        throw nonFiniteLogit(lossName, logits, i, t);
      }
      if (s < min) min = s;
      found.push(i);
    } else if (t !== t) {
      checkNegativeLogits(lossName, logits, targets, i);
      throw new RankSortInputError(`${lossName}: targets[${i}] is NaN; mark ignored entries with -1`);
    }
    if (others.length <= maxOthers) others.push(i);
  }
  const count = found.length;
  const positiveIndex = Int32Array.from(found);
  const positiveLogit = new Float64Array(count);
  const positiveTarget = new Float64Array(count);
  for (let p = 0; p < count; p++) {
    positiveLogit[p] = logits[found[p]!]!;
    positiveTarget[p] = targets[found[p]!]!;
  }
  const nonNegatives = others.length <= maxOthers ? Int32Array.from(others) : undefined;
  return { positiveIndex, positiveLogit, positiveTarget, minPositiveLogit: count > 0 ? min : NaN, nonNegatives };
}

/** Throw for the first negative (target 0) in [0, end) whose logit is not finite. */
export function checkNegativeLogits(lossName: string, logits: Float32Array, targets: Float32Array, end = logits.length): void {
  for (let i = 0; i < end; i++) {
    if (targets[i] === 0 && !Number.isFinite(logits[i]!)) throw nonFiniteLogit(lossName, logits, i, 0);
  }
}

export function nonFiniteLogit(lossName: string, logits: Float32Array, i: number, t: number): RankSortInputError {
  return new RankSortInputError(
    `${lossName}: logits[${i}] = ${logits[i]} is not finite (targets[${i}] = ${t}); only ignored entries (target < 0) may hold non-finite logits`,
  );
}

function badPositiveTarget(lossName: string, rule: PositiveRule, i: number, t: number): RankSortInputError {
  return new RankSortInputError(
    rule === "exactly-one"
      ? `${lossName}: targets[${i}] = ${t}; expected 1 (positive), 0 (negative) or a negative value such as -1 (ignored)`
      : `${lossName}: targets[${i}] = Infinity; positive targets must be finite (they are the sorting targets, e.g. IoUs)`,
  );
}

/**
 * The reference's relevant-negative threshold: torch.min(fg_logits) - delta, evaluated in float32
 * (torch casts the Python scalar to the tensor's float32 before subtracting).
 * A negative with logit >= threshold is relevant.
 */
export function relevantThreshold(minPositiveLogit: number, delta: number): number {
  return Math.fround(minPositiveLogit - Math.fround(delta));
}

/** Positives and relevant negatives of a case, by the same rules as the kernels (no validation). */
export function countPositivesAndRelevant(
  logits: Float32Array,
  targets: Float32Array,
  rule: PositiveRule,
  delta: number,
): { positives: number; relevantNegatives: number } {
  let positives = 0;
  let min = Infinity;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    if (rule === "exactly-one" ? t === 1 : t > 0) {
      positives++;
      if (logits[i]! < min) min = logits[i]!;
    }
  }
  if (positives === 0) return { positives, relevantNegatives: 0 };
  const threshold = relevantThreshold(min, delta);
  let relevantNegatives = 0;
  for (let i = 0; i < targets.length; i++) if (targets[i] === 0 && logits[i]! >= threshold) relevantNegatives++;
  return { positives, relevantNegatives };
}
