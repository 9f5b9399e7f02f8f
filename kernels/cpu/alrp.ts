// aLRP loss (Oksuz et al., NeurIPS 2020; the form in the official Rank & Sort code): the
// classification part, whose positive update also carries the ranking-weighted regression losses.
// O((P + N) log P); DERIVATION.md gives the algebra.

import { asFloat32, checkDelta, checkEps, checkNegativeLogits, classify, RankSortInputError, relevantThreshold } from "./inputs.ts";
import { PrefixSums } from "./range_sums.ts";
import { sumStepAbove } from "./step_sums.ts";
import { falsePositiveCounts, NegativeSegments, scatterToNegatives } from "./negative_segments.ts";
import { sortPositives, stepShape, stepValue } from "./step_window.ts";
import { AP_TIE_VALUE } from "./ap.ts";

export interface ALRPLossOptions {
  /** Smoothing half-width δ; default 1. */
  delta?: number;
  /** Positives with FP ≤ eps get no update (the reference's eps). Default 1e-5. */
  eps?: number;
}

export interface ALRPLossResult {
  loss: number;
  grad: Float32Array;
  /** rank_i = rank⁺_i + FP_i of each positive, in flattened positive order (the reference's `rank`). */
  rank: Float32Array;
  /** Positive ordinals sorted by ascending logit (ties: flattened order) — the reference's `order`. */
  order: Int32Array;
  numPositives: number;
  numRelevantNegatives: number;
}

const LOSS = "ALRPLoss";

/**
 * aLRP loss of flat logits and binary targets, with one regression loss per positive (flattened
 * order): the loss, its gradient, each positive's rank and the positives' order by logit.
 */
export function alrpLoss(
  logits: Float32Array | ArrayLike<number>,
  targets: Float32Array | ArrayLike<number>,
  regressionLosses: Float32Array | ArrayLike<number>,
  opts: ALRPLossOptions = {},
): ALRPLossResult {
  const delta = checkDelta(opts.delta ?? 1, LOSS);
  const eps = checkEps(opts.eps ?? 1e-5, LOSS);
  const x = asFloat32("logits", logits);
  const t = asFloat32("targets", targets);
  const reg = asFloat32("regression_losses", regressionLosses);
  const pos = classify(LOSS, x, t, "exactly-one");
  const N = x.length;
  const P = pos.positiveIndex.length;
  if (reg.length !== P) {
    throw new RankSortInputError(
      `${LOSS}: regression_losses has ${reg.length} elements but there are ${P} positives (targets == 1); give one per positive, in flattened order`,
    );
  }
  for (let p = 0; p < P; p++) {
    if (!Number.isFinite(reg[p]!)) {
      throw new RankSortInputError(
        `${LOSS}: regression_losses[${p}] = ${reg[p]} is not finite (positive at logits[${pos.positiveIndex[p]}])`,
      );
    }
  }
  const grad = new Float32Array(N);
  if (P === 0) {
    checkNegativeLogits(LOSS, x, t); // otherwise the false-positive pass checks them
    return { loss: 0, grad, rank: new Float32Array(0), order: new Int32Array(0), numPositives: 0, numRelevantNegatives: 0 };
  }

  const shape = stepShape(delta, AP_TIE_VALUE);
  const self = stepValue(shape, 0);
  const sp = sortPositives(pos.positiveLogit);
  const q = sp.sorted;
  const regByRank = new Float64Array(P);
  const regTimesLogit = new Float64Array(P);
  for (let r = 0; r < P; r++) {
    regByRank[r] = reg[sp.order[r]!]!;
    regTimesLogit[r] = regByRank[r]! * q[r]!;
  }
  const all = new PrefixSums([new Float64Array(P).fill(1), q, regByRank, regTimesLogit]);
  const unit = { count: 0, weight: 0, weightTimesLogit: 1 };
  const regWeighted = { count: 0, weight: 2, weightTimesLogit: 3 };
  const threshold = relevantThreshold(pos.minPositiveLogit, delta);
  const fp = falsePositiveCounts(LOSS, x, t, pos.nonNegatives, threshold, new NegativeSegments(sp, shape), grad);

  const rank = new Float32Array(P);
  const negWeight = new Float64Array(P);
  const invP = 1 / P;
  let precisionSum = 0;
  for (let r = 0; r < P; r++) {
    const rankPos = 1 + sumStepAbove(all, unit, sp, shape, q[r]!) - self;
    const falsePos = fp.falsePositives[r]!;
    const total = rankPos + falsePos;
    const p = sp.order[r]!;
    rank[p] = total;
    precisionSum += rankPos / total;
    if (falsePos > eps) {
      // Σ_{j≠i} H_ij · reg_j: drop the self term H(0)·reg_i from the full sum.
      const regSum = sumStepAbove(all, regWeighted, sp, shape, q[r]!) - self * regByRank[r]!;
      const g = -(regSum + falsePos) / total;
      grad[pos.positiveIndex[p]!] = g * invP;
      negWeight[r] = -g / falsePos;
    }
  }
  scatterToNegatives(x, t, pos.nonNegatives, threshold, fp, negWeight, invP, grad);
  return {
    loss: 1 - precisionSum * invP,
    grad,
    rank,
    order: sp.order.slice(),
    numPositives: P,
    numRelevantNegatives: fp.numRelevantNegatives,
  };
}
