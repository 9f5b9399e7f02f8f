// Rank & Sort loss (Oksuz et al., ICCV 2021): forward and identity-update gradient in
// O((P + N) log P) time and O(P) extra memory for P positives and N logits.
// Semantics follow the official RankSort autograd function; DERIVATION.md gives the algebra.

import { asFloat32, checkDelta, checkEps, classify, relevantThreshold } from "./inputs.ts";
import { FenwickSums, PrefixSums } from "./range_sums.ts";
import { countStepAbove, sumStepAbove, sumStepBelow } from "./step_sums.ts";
import { falsePositiveCounts, NegativeSegments, scatterToNegatives } from "./negative_segments.ts";
import { sortPositives, stepShape } from "./step_window.ts";

export interface RankSortOptions {
  /** Smoothing half-width δ of the step function; 0 gives the hard step. Default 0.5. */
  delta?: number;
  /** Gate below which a ranking/sorting error is not propagated (the reference's eps). Default 1e-10. */
  eps?: number;
}

export interface RankSortResult {
  rankingLoss: number;
  sortingLoss: number;
  /** ∂(ranking part of the identity update), already divided by P. */
  gradRanking: Float32Array;
  /** ∂(sorting part of the identity update), already divided by P; zero on negatives. */
  gradSorting: Float32Array;
  /** gradRanking + gradSorting: what the reference returns for any upstream weights (it drops the sorting weight). */
  grad: Float32Array;
  numPositives: number;
  numRelevantNegatives: number;
}

const LOSS = "RankSortLoss";

/** Ranks of positives grouped by equal target, groups in descending target order. */
export function groupsByDescendingTarget(targetByRank: Float64Array): Int32Array[] {
  const ranks = Array.from(targetByRank.keys()).sort((a, b) => targetByRank[b]! - targetByRank[a]! || a - b);
  const groups: Int32Array[] = [];
  for (let start = 0; start < ranks.length; ) {
    let end = start + 1;
    while (end < ranks.length && targetByRank[ranks[end]!] === targetByRank[ranks[start]!]) end++;
    groups.push(Int32Array.from(ranks.slice(start, end)));
    start = end;
  }
  return groups;
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
  const gradRanking = new Float32Array(N);
  const gradSorting = new Float32Array(N);
  const grad = new Float32Array(N);
  if (P === 0) {
    return { rankingLoss: 0, sortingLoss: 0, gradRanking, gradSorting, grad, numPositives: 0, numRelevantNegatives: 0 };
  }

  const shape = stepShape(delta, 1); // RankSort's hard step is `x >= 0`, so H(0) = 1 when δ = 0
  const sp = sortPositives(pos.positiveLogit);
  const q = sp.sorted;
  const target = new Float64Array(P);
  const ones = new Float64Array(P).fill(1);
  const miss = new Float64Array(P); // 1 − t, the sorting error's weight
  const missTimesLogit = new Float64Array(P);
  for (let r = 0; r < P; r++) {
    target[r] = pos.positiveTarget[sp.order[r]!]!;
    miss[r] = 1 - target[r]!;
    missTimesLogit[r] = miss[r]! * q[r]!;
  }

  // rank⁺ (self term included, as in the reference) and the current sorting numerator.
  const all = new PrefixSums([ones, q, miss, missTimesLogit]);
  const unit = { count: 0, weight: 0, weightTimesLogit: 1 };
  const missWeighted = { count: 0, weight: 2, weightTimesLogit: 3 };
  const rankPos = new Float64Array(P);
  const currentSortNum = new Float64Array(P);
  const reachingCount = new Float64Array(P); // #positives j with H(s_j − s_i) > 0
  for (let r = 0; r < P; r++) {
    rankPos[r] = sumStepAbove(all, unit, sp, shape, q[r]!);
    currentSortNum[r] = sumStepAbove(all, missWeighted, sp, shape, q[r]!);
    reachingCount[r] = countStepAbove(all, 0, sp, shape, q[r]!);
  }

  const threshold = relevantThreshold(pos.minPositiveLogit, delta);
  const fp = falsePositiveCounts(x, t, threshold, new NegativeSegments(sp, shape), gradRanking);

  // Target sorting terms: sums over positives with t_j ≥ t_i, by a sweep in descending target.
  const groups = groupsByDescendingTarget(target);
  const sortingError = new Float64Array(P);
  const sortDenom = new Float64Array(P); // Σ_{t_j < t_i} H_ij, the sorting pmf's denominator
  {
    const tree = new FenwickSums(P, 4);
    const entry = new Float64Array(4);
    for (const group of groups) {
      for (const r of group) {
        entry[0] = 1;
        entry[1] = q[r]!;
        entry[2] = miss[r]!;
        entry[3] = missTimesLogit[r]!;
        tree.add(r, entry);
      }
      for (const r of group) {
        const v = q[r]!;
        const targetRank = sumStepAbove(tree, unit, sp, shape, v);
        const targetSortNum = sumStepAbove(tree, missWeighted, sp, shape, v);
        sortingError[r] = currentSortNum[r]! / rankPos[r]! - targetSortNum / targetRank;
        const lowerReaching = reachingCount[r]! - countStepAbove(tree, 0, sp, shape, v);
        sortDenom[r] = lowerReaching === 0 ? 0 : rankPos[r]! - targetRank;
      }
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
  // querying a group before inserting it so that equal targets do not count.
  {
    const tree = new FenwickSums(P, 3);
    const ch = { count: 0, weight: 1, weightTimesLogit: 2 };
    const entry = new Float64Array(3);
    for (const group of groups) {
      for (const r of group) posSorting[r]! += sumStepBelow(tree, ch, sp, shape, q[r]!);
      for (const r of group) {
        entry[0] = 1;
        entry[1] = sortWeight[r]!;
        entry[2] = sortWeight[r]! * q[r]!;
        tree.add(r, entry);
      }
    }
  }

  const invP = 1 / P;
  for (let r = 0; r < P; r++) {
    const i = pos.positiveIndex[sp.order[r]!]!;
    const gr = posRanking[r]! * invP;
    const gs = posSorting[r]! * invP;
    gradRanking[i] = gr;
    gradSorting[i] = gs;
    grad[i] = gr + gs;
  }
  scatterToNegatives(x, t, threshold, fp, negWeight, invP, gradRanking, grad);

  return {
    rankingLoss: rankingSum * invP,
    sortingLoss: sortingSum * invP,
    gradRanking,
    gradSorting,
    grad,
    numPositives: P,
    numRelevantNegatives: fp.numRelevantNegatives,
  };
}
