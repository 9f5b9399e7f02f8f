// The parts every loss body shares, written with standard ONNX ops only (see FUNCTION_BODIES.md):
// positives and relevant negatives, the step H between positives (a P×P matrix), each positive's
// false-positive count FP, and the negatives' share of an update — the last two without any P×M
// matrix: the positives' window edges are merged with the relevant negatives by one sort, and
// prefix sums over that merged order are read back at the edges (FP) and at the negatives (gradient).
//
// Everything is computed in float64: prefix sums over millions of float32 logits would not keep the
// kernels' tolerance in float32.

import type { GraphBuilder, Value } from "../../onnx/builder.ts";
import { TensorOps } from "../../onnx/tensor_ops.ts";

export interface StepRule {
  /** H(0) for δ = 0: 1 for RankSort (`x >= 0`), 0.5 for AP/aLRP (the δ → 0 limit). */
  tieValue: number;
  /** Positives are targets > 0 (RankSort) or exactly 1 (AP/aLRP). */
  positive: "greater-than-zero" | "exactly-one";
}

/** Values computed at the top of every body, outside the no-positive branch. */
export interface BodyInputs {
  logits: Value;
  targets: Value;
  /** float32 scalar δ and its float64 copy. */
  delta: Value;
  deltaD: Value;
  /** Flattened indices of the positives, [P] int64. */
  posIdx: Value;
  /** [1] int64 P, and whether P > 0. */
  count: Value;
  hasPositives: Value;
}

/** Emit the common prologue: positives and the parameters every branch needs. */
export function bodyInputs(t: TensorOps, logits: Value, targets: Value, rule: StepRule): BodyInputs {
  const delta = t.attrScalar("delta", "float32");
  const deltaD = t.cast(delta, "float64");
  const posMask = rule.positive === "greater-than-zero" ? t.greater(targets, t.scalar("float32", 0)) : t.equal(targets, t.scalar("float32", 1));
  const posIdx = t.nonzero1d(posMask);
  const count = t.shape(posIdx);
  const hasPositives = t.greater(count, t.e.ints([0], "zero_count"));
  return { logits, targets, delta, deltaD, posIdx, count, hasPositives };
}

/** The shared terms, built inside the branch that runs when there are positives. */
export class RankingTerms {
  readonly t: TensorOps;
  /** float64 logits/targets of the positives (flattened order), and logits centred on their minimum. */
  readonly posLogit: Value;
  readonly posTarget: Value;
  readonly q: Value;
  /** [P] int64 → float64 P as a scalar. */
  readonly P: Value;
  /** X[i, j] = q_j − q_i and H[i, j] = H(q_j − q_i), [P, P]. */
  readonly diff: Value;
  readonly H: Value;
  /** Relevant negatives: flattened indices [M], centred logits [M], and M as float64 scalar. */
  readonly negIdx: Value;
  readonly v: Value;
  readonly M: Value;
  readonly isSoft: Value;
  readonly beta: Value;
  /** Merged order of [q + δ (P), v (M), q − δ (P)], and where each element of that list landed. */
  private readonly order: Value;
  private readonly position: Value;
  private readonly sortedValues: Value;
  private readonly isNegativeSorted: Value;
  private readonly negCountP: Value;
  private readonly Mi: Value;

  constructor(
    readonly g: GraphBuilder,
    readonly inputs: BodyInputs,
    readonly rule: StepRule,
  ) {
    const t = (this.t = new TensorOps(g));
    const x = t.cast(inputs.logits, "float64");
    this.posLogit = t.gather(x, inputs.posIdx);
    this.posTarget = t.gather(t.cast(inputs.targets, "float64"), inputs.posIdx);
    const centre = t.reduceMin(this.posLogit);
    this.q = t.sub(this.posLogit, centre);
    this.P = t.cast(t.reshape(inputs.count, []), "float64");

    // δ > 0 selects the linear window; δ = 0 the hard step. Both branches are evaluated (Where).
    const zeroD = t.scalar("float64", 0);
    this.isSoft = t.greater(inputs.deltaD, zeroD);
    this.beta = t.div(t.scalar("float64", 0.5), inputs.deltaD);

    this.diff = t.sub(t.unsqueeze(this.q, [0]), t.unsqueeze(this.q, [1]));
    this.H = this.step(this.diff);

    // Relevant negatives: target exactly 0 and logit ≥ min positive logit − δ, compared in float32
    // exactly as the reference does.
    const threshold = t.sub(t.reduceMin(t.gather(inputs.logits, inputs.posIdx)), inputs.delta);
    const relevant = t.and(t.equal(inputs.targets, t.scalar("float32", 0)), t.greaterOrEqual(inputs.logits, threshold));
    this.negIdx = t.nonzero1d(relevant);
    this.v = t.sub(t.gather(x, this.negIdx), centre);
    const mShape = t.shape(this.negIdx);
    this.Mi = mShape;
    this.M = t.cast(t.reshape(mShape, []), "float64");

    // One ascending sort of [q + δ, v, q − δ]: TopK keeps equal values in input order, so an upper
    // edge q + δ sorts before negatives equal to it and a lower edge q − δ after them.
    const upper = t.add(this.q, inputs.deltaD);
    const lower = t.sub(this.q, inputs.deltaD);
    const merged = t.concat([upper, this.v, lower]);
    const total = t.shape(merged);
    const [sortedValues, order] = t.sortAscending(merged, total);
    this.sortedValues = sortedValues;
    this.order = order;
    this.position = t.scatter1d(t.zeros(total, "int64"), order, t.range(total));
    const isNeg = t.and(t.greaterOrEqual(order, inputs.count), t.less(order, t.add(inputs.count, mShape)));
    this.isNegativeSorted = isNeg;
    this.negCountP = t.cumsum(t.cast(isNeg, "float64"));
  }

  /** H applied elementwise to differences x (float64). */
  step(x: Value): Value {
    const t = this.t;
    const soft = t.clip(t.add(t.mul(x, this.beta), t.scalar("float64", 0.5)), t.scalar("float64", 0), t.scalar("float64", 1));
    const zero = t.scalar("float64", 0);
    const above = t.cast(t.greater(x, zero), "float64");
    const hard = this.rule.tieValue === 0 ? above : t.add(above, t.mul(t.cast(t.equal(x, zero), "float64"), t.scalar("float64", this.rule.tieValue)));
    return t.where(this.isSoft, soft, hard);
  }

  /** Positions in the merged order of the upper edges (first P) and lower edges (last P). */
  private edgePositions(): [Value, Value] {
    const t = this.t;
    const P = this.inputs.count;
    const upper = t.slice(this.position, t.e.ints([0], "start"), P);
    const lowerStart = t.add(P, this.Mi);
    const lower = t.slice(this.position, lowerStart, t.add(lowerStart, P));
    return [upper, lower];
  }

  /**
   * FP_i = Σ_k H(v_k − q_i) over relevant negatives. With a = #{v < q+δ} (negatives before the upper
   * edge) and b = #{v ≤ q−δ} (before the lower edge), and S the prefix sums of v:
   * δ > 0: (M − a) + ½(a − b) + β((S_a − S_b) − q(a − b));  δ = 0: (M − b) + h₀(b − a).
   */
  falsePositives(): Value {
    const t = this.t;
    const [upperPos, lowerPos] = this.edgePositions();
    const negSum = t.cumsum(t.where(this.isNegativeSorted, this.sortedValues, t.scalar("float64", 0)));
    const a = t.gather(this.negCountP, upperPos);
    const b = t.gather(this.negCountP, lowerPos);
    const inWindow = t.sub(a, b);
    const windowSum = t.sub(t.gather(negSum, upperPos), t.gather(negSum, lowerPos));
    const soft = t.add(
      t.add(t.sub(this.M, a), t.mul(inWindow, t.scalar("float64", 0.5))),
      t.mul(this.beta, t.sub(windowSum, t.mul(this.q, inWindow))),
    );
    // δ = 0: both edges equal q; a counts v < q, b counts v ≤ q.
    const hard = t.add(t.sub(this.M, b), t.mul(t.sub(b, a), t.scalar("float64", this.rule.tieValue)));
    return t.where(this.isSoft, soft, hard);
  }

  /**
   * g_k = Σ_i w_i H(v_k − q_i) for every relevant negative (in negIdx order). Prefix sums of w over
   * the upper edges (W1: q + δ ≤ v, H = 1) and the lower edges (W2: q − δ < v, H > 0), read at each
   * negative: δ > 0: W1 + ½(W2 − W1) + β(v(W2 − W1) − (WQ2 − WQ1));  δ = 0: W2' + h₀(W1' − W2')
   * where for δ = 0 the upper edge q counts q ≤ v and the lower edge q counts q < v.
   */
  negativeShare(w: Value): Value {
    const t = this.t;
    const zeros = t.zeros(this.Mi, "float64");
    const wq = t.mul(w, this.q);
    const zerosP = t.zeros(this.inputs.count, "float64");
    const prefix = (upperPart: Value, lowerPart: Value) => t.cumsum(t.gather(t.concat([upperPart, zeros, lowerPart]), this.order));
    const W1 = prefix(w, zerosP);
    const W2 = prefix(zerosP, w);
    const WQ1 = prefix(wq, zerosP);
    const WQ2 = prefix(zerosP, wq);
    const vSorted = this.sortedValues;
    const win = t.sub(W2, W1);
    const soft = t.add(t.add(W1, t.mul(win, t.scalar("float64", 0.5))), t.mul(this.beta, t.sub(t.mul(vSorted, win), t.sub(WQ2, WQ1))));
    const hard = t.add(W2, t.mul(t.sub(W1, W2), t.scalar("float64", this.rule.tieValue)));
    const gSorted = t.where(this.isSoft, soft, hard);
    // Back to merged-list order, then keep the negatives' slice.
    const gMerged = t.gather(gSorted, this.position);
    const P = this.inputs.count;
    return t.slice(gMerged, P, t.add(P, this.Mi));
  }

  /** A float32 gradient over all N logits: `negatives` at negIdx, `positives` at posIdx. */
  scatterGradient(positives: Value | undefined, negatives: Value | undefined): Value {
    const t = this.t;
    let g = t.zeros(t.shape(this.inputs.logits), "float64");
    if (negatives) g = t.scatter1d(g, this.negIdx, negatives);
    if (positives) g = t.scatter1d(g, this.inputs.posIdx, positives);
    return t.cast(g, "float32");
  }
}
