// The two passes over the logits that involve the (up to millions of) relevant negatives, each in
// O(1) expected time per negative. See DERIVATION.md, "Negatives".
//
// For a negative with centred logit v, the positives split into ranks [0, lo) with H(v − q) = 1,
// a window [lo, hi) with H(v − q) = α + β(v − q), and [hi, P) with H = 0. As v grows, lo and hi only
// grow, each by one at one of 2P breakpoints, so the sorted breakpoints cut the line into 2P + 1
// segments on which (lo, hi) is constant — and segment s has lo + hi = s. One search per negative
// finds its segment; the false-positive pass then only counts and sums v per segment, and the
// gradient pass is g = A_s + B_s·v.

import { nonFiniteLogit } from "./inputs.ts";
import { SearchGrid, type SortedPositives, type StepShape } from "./step_window.ts";

const nextUpFloat = new Float64Array(1);
const nextUpWords = new Uint32Array(nextUpFloat.buffer); // little-endian: [low, high]

/** The next float64 above x (x finite): turns a strict "e < v" into "nextUp(e) <= v". */
export function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  nextUpFloat[0] = x;
  // Positive x: the bit pattern grows with the value; negative x: it shrinks.
  const low = nextUpWords[0]!;
  if (x > 0) {
    nextUpWords[0] = low + 1; // wraps to 0 on overflow: carry into the high word
    if (low === 0xffffffff) nextUpWords[1]!++;
  } else {
    nextUpWords[0] = low - 1;
    if (low === 0) nextUpWords[1]!--;
  }
  return nextUpFloat[0]!;
}

export class NegativeSegments {
  /** Sorted breakpoints: segment(v) = number of breakpoints <= v. */
  private readonly edges: Float64Array;
  private readonly grid: SearchGrid;
  /** lo and hi of each segment s ∈ [0, 2P]. */
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  /** The segment whose window covers every positive (lo = 0, hi = P), and the v-range that lands in it. */
  readonly coverAllFrom: number;
  readonly coverAllBelow: number;

  constructor(
    readonly sp: SortedPositives,
    readonly shape: StepShape,
  ) {
    const q = sp.sorted;
    const P = q.length;
    const d = shape.delta;
    // lo(v) = #{r: lowEdge_r <= v}, hi(v) = #{r: highEdge_r <= v}.
    //   δ > 0: q_r ≤ v − δ  ⇔ q_r + δ ≤ v;   q_r < v + δ ⇔ nextUp(q_r − δ) ≤ v.
    //   δ = 0: q_r < v      ⇔ nextUp(q_r) ≤ v;  q_r ≤ v.
    // (For δ > 0 the re-association rounds differently at the very edge, where H is continuous.)
    const lowEdge = new Float64Array(P);
    const highEdge = new Float64Array(P);
    for (let r = 0; r < P; r++) {
      const x = q[r]!;
      lowEdge[r] = d > 0 ? x + d : nextUp(x);
      highEdge[r] = d > 0 ? nextUp(x - d) : x;
    }
    // Merge the two sorted edge lists; after i edges, a are low edges and b high edges.
    this.edges = new Float64Array(2 * P);
    this.lo = new Int32Array(2 * P + 1);
    this.hi = new Int32Array(2 * P + 1);
    for (let i = 0, a = 0, b = 0; i < 2 * P; i++) {
      const takeLow = b >= P || (a < P && lowEdge[a]! <= highEdge[b]!);
      this.edges[i] = takeLow ? lowEdge[a++]! : highEdge[b++]!;
      this.lo[i + 1] = a;
      this.hi[i + 1] = b;
    }
    this.grid = new SearchGrid(this.edges);
    this.coverAllFrom = highEdge[P - 1]!;
    this.coverAllBelow = lowEdge[0]!;
  }

  /**
   * Count and sum (double-double) the noted negatives `noted[0, count)` into their segments
   * (`stats[3s, 3s + 3)` = count, sum, rounding error of the sum, side by side: one cache line to
   * touch per negative, mostly), and record each one's slot (1 + segment) in `scratch`. Returns the first index holding +∞, or −1.
   * Kept out of the false-positive pass's main loop, which stays short and branch-free.
   */
  accumulate(logits: Float32Array, centre: number, noted: Int32Array, count: number, scratch: Int32Array, stats: Float64Array): number {
    const grid = this.grid;
    for (let i = 0; i < count; i++) {
      const k = noted[i]!;
      const v = logits[k]! - centre;
      if (v === Infinity) return k;
      const s = grid.countLessOrEqual(v); // the segment: breakpoints <= v
      scratch[k] = s + 1;
      const at = 3 * s;
      stats[at]!++;
      const a = stats[at + 1]!; // Knuth's TwoSum: the rounding error accumulates beside the sum
      const t = a + v;
      const bb = t - a;
      stats[at + 2]! += a - (t - bb) + (v - bb);
      stats[at + 1] = t;
    }
    return -1;
  }
}

/**
 * Where the negatives (target 0) are: runs between the few other entries, from classify's list of
 * them when it has one (the targets are then not read again), else by reading the targets.
 */
export class NegativeRuns {
  private cursor = 0;

  constructor(
    private readonly targets: Float32Array,
    private readonly nonNegatives: Int32Array | undefined,
  ) {}

  /** The first index in [k, end) whose entry is not a negative, or end. Call with non-decreasing k. */
  stop(k: number, end: number): number {
    const list = this.nonNegatives;
    if (list) {
      let e = this.cursor;
      while (e < list.length && list[e]! < k) e++;
      this.cursor = e;
      return e < list.length && list[e]! < end ? list[e]! : end;
    }
    const t = this.targets;
    while (k < end && t[k] === 0) k++;
    return k;
  }
}

export interface FalsePositiveCounts {
  /** FP_r = Σ_{relevant negatives k} H(s_k − s_r), indexed by positive rank. */
  readonly falsePositives: Float64Array;
  readonly numRelevantNegatives: number;
  readonly segments: NegativeSegments;
  /**
   * The caller's gradient array viewed as int32, holding 1 + the segment of each relevant
   * negative outside the cover-all segment, and 0 (as allocated: the bits of 0.0) for those inside
   * it, until the gradient pass overwrites every one of them with its float gradient: the gradient
   * pass then reads its coefficients by that slot with no search, no branch, no conversion and no
   * extra memory.
   */
  readonly segmentScratch: Int32Array;
  /** The float32 array that segmentScratch views. */
  readonly scratchOwner: Float32Array;
}

/**
 * The logits are visited in blocks of this many. Within a block, cover-all negatives add to a
 * plain float64 sum in a register (rounding error ≤ BLOCK·2^-53 of the block's |sum|, ≈ 5e-13
 * relative) that is then folded into a double-double total, so millions of values add up without
 * losing the window terms; the other relevant negatives are only noted, and searched and summed
 * after the block, which keeps the common loop short.
 */
const BLOCK = 4096;

/**
 * FP for every positive, from one pass over the logits: count and sum v per segment, then turn
 * segments into difference histograms over positive ranks and sweep once. The same pass checks
 * that every negative's logit is finite (classify reads only the targets).
 * `gradientOut` must be all zeros (freshly allocated).
 */
export function falsePositiveCounts(
  lossName: string,
  logits: Float32Array,
  targets: Float32Array,
  nonNegatives: Int32Array | undefined,
  threshold: number,
  segments: NegativeSegments,
  gradientOut: Float32Array,
): FalsePositiveCounts {
  const { sp, shape } = segments;
  const P = sp.sorted.length;
  const S = 2 * P + 1;
  const centre = sp.centre;
  const stats = new Float64Array(3 * S); // per segment: count, sum, the sum's rounding error
  const scratch = new Int32Array(gradientOut.buffer, gradientOut.byteOffset, gradientOut.length);
  const noted = new Int32Array(BLOCK);
  const coverAll = P; // the segment with lo = 0, hi = P
  const { coverAllFrom, coverAllBelow } = segments;
  let coverCount = 0;
  let coverHi = 0;
  let coverLo = 0;
  let others = 0;
  const runs = new NegativeRuns(targets, nonNegatives);
  const n = logits.length;
  for (let start = 0; start < n; start += BLOCK) {
    const end = start + BLOCK < n ? start + BLOCK : n;
    let blockSum = 0;
    let blockSumOdd = 0;
    let numNoted = 0;
    let firstBad = -1;
    for (let k = start; k < end; k++) {
      const stop = runs.stop(k, end);
      // Two relevant logits at a time into two sums: one sum would make each add wait for the last.
      for (; k + 1 < stop; k += 2) {
        const x0 = logits[k]!;
        const x1 = logits[k + 1]!;
        if (!(x0 >= threshold && x1 >= threshold)) break; // the one-at-a-time loop below takes over
        const v0 = x0 - centre;
        const v1 = x1 - centre;
        const inCover0 = +(v0 >= coverAllFrom) & +(v0 < coverAllBelow);
        const inCover1 = +(v1 >= coverAllFrom) & +(v1 < coverAllBelow);
        coverCount += inCover0 + inCover1;
        blockSum += inCover0 * v0;
        blockSumOdd += inCover1 * v1;
        noted[numNoted] = k;
        numNoted += 1 - inCover0;
        noted[numNoted] = k + 1;
        numNoted += 1 - inCover1;
      }
      for (; k < stop; k++) {
        const x = logits[k]!;
        if (!(x >= threshold)) {
          if (!(x > -Infinity) && firstBad < 0) firstBad = k; // NaN or −∞
          continue;
        }
        // Without a branch: mid-training, cover-all and the rest interleave unpredictably, and a
        // mispredicted branch per logit cost 3-4x this loop. (+∞ makes blockSum NaN, but it is
        // noted, and rejected after the block.)
        const v = x - centre;
        const inCover = +(v >= coverAllFrom) & +(v < coverAllBelow);
        coverCount += inCover;
        blockSum += inCover * v;
        noted[numNoted] = k;
        numNoted += 1 - inCover;
      }
    }
    blockSum += blockSumOdd;
    const t = coverHi + blockSum; // Knuth's TwoSum: the rounding error accumulates beside the sum
    const bb = t - coverHi;
    coverLo += coverHi - (t - bb) + (blockSum - bb);
    coverHi = t;
    const infinite = segments.accumulate(logits, centre, noted, numNoted, scratch, stats);
    if (infinite >= 0 && (firstBad < 0 || infinite < firstBad)) firstBad = infinite;
    others += numNoted;
    if (firstBad >= 0) throw nonFiniteLogit(lossName, logits, firstBad, 0); // the block's first bad negative
  }
  const relevant = coverCount + others;
  stats[3 * coverAll]! += coverCount;
  {
    const a = stats[3 * coverAll + 1]!;
    const t = a + coverHi;
    const bb = t - a;
    stats[3 * coverAll + 2]! += a - (t - bb) + (coverHi - bb) + coverLo;
    stats[3 * coverAll + 1] = t;
  }

  // Segments → difference histograms over positive ranks: a segment's negatives add 1 to ranks
  // below lo and α + β(v − q_r) to ranks in [lo, hi).
  const fullEnd = new Float64Array(P + 1);
  const windowDelta = new Float64Array(P + 1);
  const sumDeltaHi = new Float64Array(P + 1);
  const sumDeltaLo = new Float64Array(P + 1);
  for (let s = 0; s < S; s++) {
    const count = stats[3 * s]!;
    if (count === 0) continue;
    const lo = segments.lo[s]!;
    const hi = segments.hi[s]!;
    fullEnd[lo]! += count;
    if (lo < hi) {
      windowDelta[lo]! += count;
      windowDelta[hi]! -= count;
      sumDeltaHi[lo]! += stats[3 * s + 1]!;
      sumDeltaLo[lo]! += stats[3 * s + 2]!;
      sumDeltaHi[hi]! -= stats[3 * s + 1]!;
      sumDeltaLo[hi]! -= stats[3 * s + 2]!;
    }
  }
  const falsePositives = new Float64Array(P);
  let fullAbove = 0;
  for (let r = P - 1; r >= 0; r--) {
    fullAbove += fullEnd[r + 1]!;
    falsePositives[r] = fullAbove;
  }
  let count = 0;
  let sumHi = 0;
  let sumLo = 0;
  const q = sp.sorted;
  for (let r = 0; r < P; r++) {
    count += windowDelta[r]!;
    for (let part = 0; part < 2; part++) {
      const x = part === 0 ? sumDeltaHi[r]! : sumDeltaLo[r]!;
      const t = sumHi + x;
      const bb = t - sumHi;
      sumLo += sumHi - (t - bb) + (x - bb);
      sumHi = t;
    }
    // An empty window adds exactly nothing (FP_r = 0 must stay exactly 0 for the eps gate).
    if (count > 0) falsePositives[r]! += shape.alpha * count + shape.beta * (sumHi + sumLo - q[r]! * count);
  }
  return { falsePositives, numRelevantNegatives: relevant, segments, segmentScratch: scratch, scratchOwner: gradientOut };
}

/**
 * Gradient of every relevant negative k: scale · Σ_r weight_r · H(s_k − s_r), written to `out`.
 * `out` is the array the false-positive pass left its slots in: each is read before it is
 * overwritten. Shared by RankSort, AP and aLRP: they differ only in the per-positive weight.
 * Per segment the sum is linear in v, g = A_s + B_s·v, so each negative costs one multiply-add.
 */
export function scatterToNegatives(
  logits: Float32Array,
  targets: Float32Array,
  nonNegatives: Int32Array | undefined,
  threshold: number,
  fp: FalsePositiveCounts,
  weight: Float64Array,
  scale: number,
  out: Float32Array,
): void {
  const { sp, shape, lo: segLo, hi: segHi } = fp.segments;
  const P = weight.length;
  const q = sp.sorted;
  const W = new Float64Array(P + 1);
  const WQ = new Float64Array(P + 1);
  for (let r = 0; r < P; r++) {
    W[r + 1] = W[r]! + weight[r]! * scale;
    WQ[r + 1] = WQ[r]! + weight[r]! * scale * q[r]!;
  }
  // Coefficients by scratch slot: slot 0 is the cover-all segment, slot s + 1 segment s.
  const S = 2 * P + 1;
  // AB[2·slot] = A, AB[2·slot + 1] = B: side by side, one cache line to touch per negative.
  const AB = new Float64Array(2 * (S + 1));
  for (let s = 0; s < S; s++) {
    const lo = segLo[s]!;
    const hi = segHi[s]!;
    const w = W[hi]! - W[lo]!;
    AB[2 * s + 2] = lo < hi ? W[lo]! + shape.alpha * w - shape.beta * (WQ[hi]! - WQ[lo]!) : W[lo]!;
    AB[2 * s + 3] = lo < hi ? shape.beta * w : 0;
  }
  AB[0] = AB[2 * P + 2]!;
  AB[1] = AB[2 * P + 3]!;
  const scratch = fp.segmentScratch;
  const centre = sp.centre;
  const n = logits.length;
  const runs = new NegativeRuns(targets, nonNegatives);
  if (fp.scratchOwner !== out) throw new Error("scatterToNegatives: out must be the array the false-positive pass was given");
  for (let k = 0; k < n; k++) {
    const stop = runs.stop(k, n);
    for (; k < stop; k++) {
      const x = logits[k]!;
      if (!(x >= threshold)) continue;
      const slot = 2 * scratch[k]!;
      out[k] = AB[slot]! + AB[slot + 1]! * (x - centre);
    }
  }
}
