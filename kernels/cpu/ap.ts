// AP loss (Chen et al.; the form in the official Rank & Sort code): interpolated AP over the
// positives visited in ascending logit, with the error-driven update distributed to negatives.
// O((P + N) log P); DERIVATION.md gives the algebra.

import { asFloat32, checkDelta, checkNegativeLogits, classify, relevantThreshold } from "./inputs.ts";
import { PrefixSums } from "./range_sums.ts";
import { sumStepAbove } from "./step_sums.ts";
import { falsePositiveCounts, NegativeSegments, scatterToNegatives } from "./negative_segments.ts";
import { sortPositives, stepShape, stepValue } from "./step_window.ts";

export interface APLossOptions {
  /** Smoothing half-width δ; default 1 (the reference's default for AP and aLRP). */
  delta?: number;
}

export interface APLossResult {
  loss: number;
  grad: Float32Array;
  numPositives: number;
  numRelevantNegatives: number;
}

const LOSS = "APLoss";

/** The step's value at a tie: 0.5 (for δ = 0 the reference divides 0 by 0; we use the δ → 0 limit). */
export const AP_TIE_VALUE = 0.5;

/** AP loss of flat logits and binary targets (1 positive, 0 negative, < 0 ignored) with its gradient. */
export function apLoss(
  logits: Float32Array | ArrayLike<number>,
  targets: Float32Array | ArrayLike<number>,
  opts: APLossOptions = {},
): APLossResult {
  const delta = checkDelta(opts.delta ?? 1, LOSS);
  const x = asFloat32("logits", logits);
  const t = asFloat32("targets", targets);
  const pos = classify(LOSS, x, t, "exactly-one");
  const N = x.length;
  const P = pos.positiveIndex.length;
  const grad = new Float32Array(N);
  if (P === 0) {
    checkNegativeLogits(LOSS, x, t); // otherwise the false-positive pass checks them
    return { loss: 0, grad, numPositives: 0, numRelevantNegatives: 0 };
  }

  const shape = stepShape(delta, AP_TIE_VALUE);
  const self = stepValue(shape, 0);
  const sp = sortPositives(pos.positiveLogit);
  const q = sp.sorted;
  const all = new PrefixSums([new Float64Array(P).fill(1), q]);
  const unit = { count: 0, weight: 0, weightTimesLogit: 1 };
  const threshold = relevantThreshold(pos.minPositiveLogit, delta);
  const fp = falsePositiveCounts(LOSS, x, t, pos.nonNegatives, threshold, new NegativeSegments(sp, shape), grad);

  // Ascending logit, running maximum of precision (ties have equal precision, so order among them
  // does not matter). Negatives get H/rank, scaled when the precision is not a new maximum.
  const negWeight = new Float64Array(P);
  let maxPrecision = 0;
  let precisionSum = 0;
  const invP = 1 / P;
  for (let r = 0; r < P; r++) {
    const rankPos = 1 + sumStepAbove(all, unit, sp, shape, q[r]!) - self;
    const rank = rankPos + fp.falsePositives[r]!;
    const precision = rankPos / rank;
    if (maxPrecision <= precision) {
      maxPrecision = precision;
      negWeight[r] = 1 / rank;
    } else {
      negWeight[r] = (1 - maxPrecision) / (1 - precision) / rank;
    }
    precisionSum += maxPrecision;
    grad[pos.positiveIndex[sp.order[r]!]!] = -(1 - maxPrecision) * invP;
  }
  scatterToNegatives(x, t, pos.nonNegatives, threshold, fp, negWeight, invP, grad);
  return { loss: 1 - precisionSum * invP, grad, numPositives: P, numRelevantNegatives: fp.numRelevantNegatives };
}
