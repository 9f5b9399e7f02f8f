// Rank & Sort loss (Oksuz et al., ICCV 2021): forward and identity-update gradient in
// O((P + N) log P) time and O(P) extra memory for P positives and N logits.
// Semantics follow the official RankSort autograd function; DERIVATION.md gives the algebra.

import { asFloat32, checkDelta, checkEps, checkNegativeLogits, classify, relevantThreshold } from "./inputs.ts";
import { FenwickSums, prefixSums } from "./range_sums.ts";
import { falsePositiveCounts, NegativeSegments, scatterToNegatives } from "./negative_segments.ts";
import { sortedOrder } from "./sort_order.ts";
import { sortPositives, stepShape, type SortedPositives, type StepShape } from "./step_window.ts";

export interface RankSortOptions {
  /** Smoothing half-width δ of the step function; 0 gives the hard step. Default 0.5. */
  delta?: number;
  /** Gate below which a ranking/sorting error is not propagated (the reference's eps). Default 1e-10. */
  eps?: number;
}

export interface RankSortResult {
  rankingLoss: number;
  sortingLoss: number;
  /**
   * ∂(ranking part of the identity update), already divided by P. Built on first access (a copy
   * of `grad` with the positives' entries replaced): most callers only read `grad`.
   */
  gradRanking: Float32Array;
  /** ∂(sorting part of the identity update), already divided by P; zero on negatives. Built on first access. */
  gradSorting: Float32Array;
  /** gradRanking + gradSorting: what the reference returns for any upstream weights (it drops the sorting weight). */
  grad: Float32Array;
  numPositives: number;
  numRelevantNegatives: number;
}

const LOSS = "RankSortLoss";

/**
 * Window bounds of every positive against the positives: for v = q_r, ranks [0, lo_r) lie at least
 * δ below (H(q − v) = 0) and ranks from hi_r on at least δ above (H = 1), as windowLow/windowHigh
 * compute them; v grows with r, so two pointers find all of them in O(P).
 */
function positiveWindows(sp: SortedPositives, shape: StepShape): { lo: Int32Array; hi: Int32Array } {
  const q = sp.sorted;
  const P = q.length;
  const d = shape.delta;
  const lo = new Int32Array(P);
  const hi = new Int32Array(P);
  for (let r = 0, a = 0, b = 0; r < P; r++) {
    const v = q[r]!;
    if (d > 0) {
      const below = v - d;
      const above = v + d;
      while (a < P && q[a]! <= below) a++;
      while (b < P && q[b]! < above) b++;
    } else {
      while (a < P && q[a]! < v) a++;
      while (b < P && q[b]! <= v) b++;
    }
    lo[r] = a;
    hi[r] = b;
  }
  return { lo, hi };
}

/**
 * Rank & Sort loss of flat logits and targets (IoU > 0 on positives, 0 on negatives, < 0 ignored),
 * exact to the official implementation: both losses, the combined identity-update gradient `grad`
 * (the reference's), and its ranking and sorting parts. O((P + N)·log P) time.
 */
export function rankSortLoss(
  logits: Float32Array | ArrayLike<number>,
  targets: Float32Array | ArrayLike<number>,
  opts: RankSortOptions = {},
): RankSortResult {
  const delta = checkDelta(opts.delta ?? 0.5, LOSS);
  const eps = checkEps(opts.eps ?? 1e-10, LOSS);
  const x = asFloat32("logits", logits);
  const t = asFloat32("targets", targets);
  const pos = classify(LOSS, x, t, "greater-than-zero");
  const N = x.length;
  const P = pos.positiveIndex.length;
  const grad = new Float32Array(N);
  if (P === 0) {
    checkNegativeLogits(LOSS, x, t); // otherwise the false-positive pass checks them
    return withParts(0, 0, grad, pos.positiveIndex, new Int32Array(0), new Float64Array(0), new Float64Array(0), 0, 0);
  }

  const shape = stepShape(delta, 1); // RankSort's hard step is `x >= 0`, so H(0) = 1 when δ = 0
  const { alpha, beta } = shape;
  const sp = sortPositives(pos.positiveLogit);
  const q = sp.sorted;
  const target = new Float64Array(P);
  const miss = new Float64Array(P); // 1 − t, the sorting error's weight
  const missTimesLogit = new Float64Array(P);
  for (let r = 0; r < P; r++) {
    target[r] = pos.positiveTarget[sp.order[r]!]!;
    miss[r] = 1 - target[r]!;
    missTimesLogit[r] = miss[r]! * q[r]!;
  }
  const { lo, hi } = positiveWindows(sp, shape);

  // rank⁺ (self term included, as in the reference) and the current sorting numerator, from
  // static prefix sums: Σ_j w_j H(q_j − v) = W[hi, P) + α W[lo, hi) + β (WQ[lo, hi) − v W[lo, hi)).
  const Q = prefixSums(q);
  const M = prefixSums(miss);
  const MQ = prefixSums(missTimesLogit);
  const rankPos = new Float64Array(P);
  const currentSortNum = new Float64Array(P);
  const reachingCount = new Float64Array(P); // #positives j with H(s_j − s_i) > 0
  for (let r = 0; r < P; r++) {
    const v = q[r]!;
    const l = lo[r]!;
    const h = hi[r]!;
    reachingCount[r] = P - l;
    if (l < h) {
      const w = h - l;
      const m = M[h]! - M[l]!;
      rankPos[r] = P - h + alpha * w + beta * (Q[h]! - Q[l]! - v * w);
      currentSortNum[r] = M[P]! - M[h]! + alpha * m + beta * (MQ[h]! - MQ[l]! - v * m);
    } else {
      rankPos[r] = P - h;
      currentSortNum[r] = M[P]! - M[h]!;
    }
  }

  const threshold = relevantThreshold(pos.minPositiveLogit, delta);
  const fp = falsePositiveCounts(LOSS, x, t, pos.nonNegatives, threshold, new NegativeSegments(sp, shape), grad);

  // Ranks by descending target (ties by rank), and where each group of equal targets ends.
  const byTarget = sortedOrder(target, true);
  const groupEnd = new Int32Array(P);
  for (let g = P - 1, end = P; g >= 0; g--) {
    if (g < P - 1 && target[byTarget[g]!] !== target[byTarget[g + 1]!]) end = g + 1;
    groupEnd[g] = end;
  }

  // Target sorting terms: sums over positives with t_j ≥ t_i, by a sweep in descending target that
  // inserts a whole group of equal targets into a Fenwick tree (channels 1, q, 1 − t, (1 − t)q)
  // before querying its members.
  const sortingError = new Float64Array(P);
  const sortDenom = new Float64Array(P); // Σ_{t_j < t_i} H_ij, the sorting pmf's denominator
  // Window prefix sums of the tree: [0, 4) at lo, [4, 8) at hi.
  const at = new Float64Array(8);
  {
    const tree = new FenwickSums(P);
    let insertedCount = 0; // of all positives inserted so far: the tree's prefix at P, channels 0 and 2
    let insertedMiss = 0;
    for (let start = 0; start < P; ) {
      const end = groupEnd[start]!;
      for (let g = start; g < end; g++) {
        const r = byTarget[g]!;
        tree.add(r, 1, q[r]!, miss[r]!, missTimesLogit[r]!);
        insertedCount += 1;
        insertedMiss += miss[r]!;
      }
      for (let g = start; g < end; g++) {
        const r = byTarget[g]!;
        const v = q[r]!;
        const l = lo[r]!;
        const h = hi[r]!;
        tree.prefixAll(l, at, 0);
        tree.prefixAll(h, at, 4);
        let targetRank = h < P ? insertedCount - at[4]! : 0;
        let targetSortNum = h < P ? insertedMiss - at[6]! : 0;
        if (l < h && at[4]! - at[0]! !== 0) {
          const w = at[4]! - at[0]!;
          const m = at[6]! - at[2]!;
          targetRank += alpha * w + beta * (at[5]! - at[1]! - v * w);
          targetSortNum += alpha * m + beta * (at[7]! - at[3]! - v * m);
        }
        sortingError[r] = currentSortNum[r]! / rankPos[r]! - targetSortNum / targetRank;
        const lowerReaching = reachingCount[r]! - (l < P ? insertedCount - at[0]! : 0);
        sortDenom[r] = lowerReaching === 0 ? 0 : rankPos[r]! - targetRank;
      }
      start = end;
    }
  }

  // Identity updates. Positive gradients by rank, in float64 until the end.
  const posRanking = new Float64Array(P);
  const posSorting = new Float64Array(P);
  const negWeight = new Float64Array(P); // RE_i / FP_i = 1 / rank_i where FP_i > eps
  const sortWeight = new Float64Array(P); // SE_i / D_i where D_i > eps
  let rankingSum = 0;
  let sortingSum = 0;
  for (let r = 0; r < P; r++) {
    const falsePos = fp.falsePositives[r]!;
    const rank = rankPos[r]! + falsePos;
    const rankingError = falsePos / rank;
    rankingSum += rankingError;
    sortingSum += sortingError[r]!;
    if (falsePos > eps) {
      posRanking[r] = -rankingError;
      negWeight[r] = 1 / rank;
    }
    if (sortDenom[r]! > eps) {
      posSorting[r] = -sortingError[r]!;
      sortWeight[r] = sortingError[r]! / sortDenom[r]!;
    }
  }
  // Each positive j receives Σ_{t_i > t_j} sortWeight_i · H(s_j − s_i): sweep in descending target,
  // querying a group before inserting it so that equal targets do not count. Tree channels 1, w, w·q.
  {
    const tree = new FenwickSums(P);
    for (let start = 0; start < P; ) {
      const end = groupEnd[start]!;
      for (let g = start; g < end; g++) {
        const r = byTarget[g]!;
        const v = q[r]!;
        const l = lo[r]!;
        const h = hi[r]!;
        tree.prefixAll(l, at, 0);
        tree.prefixAll(h, at, 4);
        let received = at[1]!; // H(v − q) = 1 below the window
        if (l < h && at[4]! - at[0]! !== 0) {
          const w = at[5]! - at[1]!;
          received += alpha * w + beta * (v * w - (at[6]! - at[2]!));
        }
        posSorting[r]! += received;
      }
      for (let g = start; g < end; g++) {
        const r = byTarget[g]!;
        tree.add(r, 1, sortWeight[r]!, sortWeight[r]! * q[r]!, 0);
      }
      start = end;
    }
  }

  const invP = 1 / P;
  for (let r = 0; r < P; r++) grad[pos.positiveIndex[sp.order[r]!]!] = posRanking[r]! * invP + posSorting[r]! * invP;
  scatterToNegatives(x, t, pos.nonNegatives, threshold, fp, negWeight, invP, grad);
  return withParts(rankingSum * invP, sortingSum * invP, grad, pos.positiveIndex, sp.order, posRanking, posSorting, invP,
    fp.numRelevantNegatives);
}

/**
 * The result, with gradRanking and gradSorting built on first access: on negatives they are
 * `grad` and 0, so each is one copy of N floats plus the P positives' own parts (by rank).
 */
function withParts(
  rankingLoss: number,
  sortingLoss: number,
  grad: Float32Array,
  positiveIndex: Int32Array,
  order: Int32Array,
  posRanking: Float64Array,
  posSorting: Float64Array,
  invP: number,
  numRelevantNegatives: number,
): RankSortResult {
  let gradRanking: Float32Array | undefined;
  let gradSorting: Float32Array | undefined;
  const positiveAt = (r: number) => positiveIndex[order[r]!]!;
  return {
    rankingLoss,
    sortingLoss,
    grad,
    get gradRanking(): Float32Array {
      if (!gradRanking) {
        gradRanking = grad.slice();
        for (let r = 0; r < order.length; r++) gradRanking[positiveAt(r)] = posRanking[r]! * invP;
      }
      return gradRanking;
    },
    set gradRanking(value: Float32Array) {
      gradRanking = value;
    },
    get gradSorting(): Float32Array {
      if (!gradSorting) {
        gradSorting = new Float32Array(grad.length);
        for (let r = 0; r < order.length; r++) gradSorting[positiveAt(r)] = posSorting[r]! * invP;
      }
      return gradSorting;
    },
    set gradSorting(value: Float32Array) {
      gradSorting = value;
    },
    numPositives: positiveIndex.length,
    numRelevantNegatives,
  };
}
