// The parts every loss body shares, written with standard ONNX ops only (see FUNCTION_BODIES.md):
// positives and relevant negatives, the step H between positives (a P×P matrix), each positive's
// false-positive count FP, and the negatives' share of an update — the last two without any P×M
// matrix: the positives' window edges are merged with the relevant negatives by one sort, and
// prefix sums over that merged order are read back at the edges (FP) and at the negatives (gradient).
//
// Two precisions (FUNCTION_BODIES.md): "float64" computes everything in float64; "float32" is for
// onnxruntime builds without float64 kernels (onnxruntime-web's WebGPU build) and keeps the long
// sums exact with int64 fixed-point prefix sums and per-segment coefficients instead.

import type { DTypeName, GraphBuilder, Value } from "../../onnx/builder.ts";
import { TensorOps } from "../../onnx/tensor_ops.ts";

export type BodyPrecision = "float64" | "float32";

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
  /** float32 scalar δ. */
  delta: Value;
  /** Flattened indices of the positives, [P] int64. */
  posIdx: Value;
  /** [1] int64 P, and whether P > 0. */
  count: Value;
  hasPositives: Value;
}

/** Emit the common prologue: positives and the parameters every branch needs. */
export function bodyInputs(t: TensorOps, logits: Value, targets: Value, rule: StepRule): BodyInputs {
  const delta = t.attrScalar("delta", "float32");
  const posMask = rule.positive === "greater-than-zero" ? t.greater(targets, t.scalar("float32", 0)) : t.equal(targets, t.scalar("float32", 1));
  const posIdx = t.nonzero1d(posMask);
  const count = t.shape(posIdx);
  const hasPositives = t.greater(count, t.e.ints([0], "zero_count"));
  return { logits, targets, delta, posIdx, count, hasPositives };
}

/** The shared terms, built inside the branch that runs when there are positives. */
export abstract class RankingTerms {
  readonly t: TensorOps;
  /** Arithmetic dtype of the body. */
  readonly real: DTypeName;
  /** Logits (raw, uncentred) and targets of the positives, flattened order, in `real`. */
  readonly posLogit: Value;
  readonly posTarget: Value;
  /** P as a `real` scalar. */
  readonly P: Value;
  /** H[i, j] = H(s_j − s_i), [P, P]. Differences of raw logits keep the hard step's sign exact. */
  readonly H: Value;
  /** Relevant negatives: flattened indices [M] and M as a [1] int64. */
  readonly negIdx: Value;
  readonly Mi: Value;
  readonly isSoft: Value;
  readonly beta: Value;

  static create(g: GraphBuilder, inputs: BodyInputs, rule: StepRule, precision: BodyPrecision): RankingTerms {
    return precision === "float64" ? new RankingTermsF64(g, inputs, rule) : new RankingTermsF32(g, inputs, rule);
  }

  protected constructor(
    readonly g: GraphBuilder,
    readonly inputs: BodyInputs,
    readonly rule: StepRule,
    real: DTypeName,
  ) {
    const t = (this.t = new TensorOps(g));
    this.real = real;
    this.posLogit = t.cast(t.gather(inputs.logits, inputs.posIdx), real);
    this.posTarget = t.cast(t.gather(inputs.targets, inputs.posIdx), real);
    this.P = t.cast(t.reshape(inputs.count, []), real);
    // δ > 0 selects the linear window; δ = 0 the hard step. Both branches are evaluated (Where).
    const delta = t.cast(inputs.delta, real);
    this.isSoft = t.greater(delta, t.scalar(real, 0));
    this.beta = t.div(t.scalar(real, 0.5), delta);
    this.H = this.step(t.sub(t.unsqueeze(this.posLogit, [0]), t.unsqueeze(this.posLogit, [1])));
    // Relevant negatives: target exactly 0 and logit ≥ min positive logit − δ, compared in float32
    // exactly as the reference does.
    const threshold = t.sub(t.reduceMin(t.gather(inputs.logits, inputs.posIdx)), inputs.delta);
    const relevant = t.and(t.equal(inputs.targets, t.scalar("float32", 0)), t.greaterOrEqual(inputs.logits, threshold));
    this.negIdx = t.nonzero1d(relevant);
    this.Mi = t.shape(this.negIdx);
  }

  /** H applied elementwise to differences x (in `real`). */
  step(x: Value): Value {
    const t = this.t;
    const r = this.real;
    const soft = t.clip(t.add(t.mul(x, this.beta), t.scalar(r, 0.5)), t.scalar(r, 0), t.scalar(r, 1));
    const zero = t.scalar(r, 0);
    const above = t.cast(t.greater(x, zero), r);
    const hard = this.rule.tieValue === 0 ? above : t.add(above, t.mul(t.cast(t.equal(x, zero), r), t.scalar(r, this.rule.tieValue)));
    return t.where(this.isSoft, soft, hard);
  }

  /** FP_i = Σ_k H(s_k − s_i) over relevant negatives, [P] in `real`. */
  abstract falsePositives(): Value;

  /** g_k = Σ_i w_i H(s_k − s_i) for every relevant negative (negIdx order), w [P] in `real`. */
  abstract negativeShare(w: Value): Value;

  /** A float32 gradient over all N logits: `negatives` at negIdx, `positives` at posIdx. */
  scatterGradient(positives: Value | undefined, negatives: Value | undefined): Value {
    const t = this.t;
    let g = t.zeros(t.shape(this.inputs.logits), this.real);
    if (negatives) g = t.scatter1d(g, this.negIdx, negatives);
    if (positives) g = t.scatter1d(g, this.inputs.posIdx, positives);
    return this.real === "float32" ? g : t.cast(g, "float32");
  }

  /**
   * One ascending TopK sort of [s + δ (P), negatives (M), s − δ (P)]: TopK keeps equal values in input
   * order, so an upper edge sorts before negatives equal to it and a lower edge after them — the
   * ≤ and < of the window bounds. Returns the sorted values, the order, and each element's position.
   */
  protected mergedOrder(upper: Value, negatives: Value, lower: Value): { sorted: Value; order: Value; position: Value; isNeg: Value } {
    const t = this.t;
    const merged = t.concat([upper, negatives, lower]);
    const total = t.shape(merged);
    const [sorted, order] = t.sortAscending(merged, total);
    const position = t.scatter1d(t.zeros(total, "int64"), order, t.range(total));
    const P = this.inputs.count;
    const isNeg = t.and(t.greaterOrEqual(order, P), t.less(order, t.add(P, this.Mi)));
    return { sorted, order, position, isNeg };
  }

  /** Positions in the merged order of the upper edges (first P) and lower edges (last P). */
  protected edgePositions(position: Value): [Value, Value] {
    const t = this.t;
    const P = this.inputs.count;
    const upper = t.slice(position, t.e.ints([0], "start"), P);
    const lowerStart = t.add(P, this.Mi);
    return [upper, t.slice(position, lowerStart, t.add(lowerStart, P))];
  }

  /** The negatives' slice (merged-list order = negIdx order) of a value over the merged order. */
  protected negativesOf(sortedValues: Value, position: Value): Value {
    const t = this.t;
    const P = this.inputs.count;
    return t.slice(t.gather(sortedValues, position), P, t.add(P, this.Mi));
  }
}

/** float64 throughout: logits centred on the smallest positive, float64 prefix sums. */
class RankingTermsF64 extends RankingTerms {
  private readonly q: Value;
  private readonly merged: ReturnType<RankingTerms["mergedOrder"]>;
  private readonly negCount: Value;
  private readonly M: Value;

  constructor(g: GraphBuilder, inputs: BodyInputs, rule: StepRule) {
    super(g, inputs, rule, "float64");
    const t = this.t;
    const centre = t.reduceMin(this.posLogit);
    this.q = t.sub(this.posLogit, centre);
    const v = t.sub(t.gather(t.cast(inputs.logits, "float64"), this.negIdx), centre);
    this.M = t.cast(t.reshape(this.Mi, []), "float64");
    const deltaD = t.cast(inputs.delta, "float64");
    this.merged = this.mergedOrder(t.add(this.q, deltaD), v, t.sub(this.q, deltaD));
    this.negCount = t.cumsum(t.cast(this.merged.isNeg, "float64"));
  }

  /**
   * With a = #{v < q+δ} (negatives before the upper edge), b = #{v ≤ q−δ} (before the lower edge) and
   * S the prefix sums of v: δ > 0: (M − a) + ½(a − b) + β((S_a − S_b) − q(a − b));
   * δ = 0 (both edges are q): (M − b) + h₀(b − a).
   */
  falsePositives(): Value {
    const t = this.t;
    const { sorted, position, isNeg } = this.merged;
    const [upperPos, lowerPos] = this.edgePositions(position);
    const negSum = t.cumsum(t.where(isNeg, sorted, t.scalar("float64", 0)));
    const a = t.gather(this.negCount, upperPos);
    const b = t.gather(this.negCount, lowerPos);
    const inWindow = t.sub(a, b);
    const windowSum = t.sub(t.gather(negSum, upperPos), t.gather(negSum, lowerPos));
    const soft = t.add(t.add(t.sub(this.M, a), t.mul(inWindow, t.scalar("float64", 0.5))), t.mul(this.beta, t.sub(windowSum, t.mul(this.q, inWindow))));
    const hard = t.add(t.sub(this.M, b), t.mul(t.sub(b, a), t.scalar("float64", this.rule.tieValue)));
    return t.where(this.isSoft, soft, hard);
  }

  /**
   * Prefix sums of w over the upper edges (W1: q + δ ≤ v, H = 1) and lower edges (W2: q − δ < v,
   * H > 0), read at each negative: δ > 0: W1 + ½(W2 − W1) + β(v(W2 − W1) − (WQ2 − WQ1));
   * δ = 0 (upper edge q counts q ≤ v, lower q < v): W2 + h₀(W1 − W2).
   */
  negativeShare(w: Value): Value {
    const t = this.t;
    const { sorted, order, position } = this.merged;
    const zeros = t.zeros(this.Mi, "float64");
    const zerosP = t.zeros(this.inputs.count, "float64");
    const wq = t.mul(w, this.q);
    const prefix = (upperPart: Value, lowerPart: Value) => t.cumsum(t.gather(t.concat([upperPart, zeros, lowerPart]), order));
    const W1 = prefix(w, zerosP);
    const W2 = prefix(zerosP, w);
    const win = t.sub(W2, W1);
    const windowTerm = t.sub(t.mul(sorted, win), t.sub(prefix(zerosP, wq), prefix(wq, zerosP)));
    const soft = t.add(t.add(W1, t.mul(win, t.scalar("float64", 0.5))), t.mul(this.beta, windowTerm));
    const hard = t.add(W2, t.mul(t.sub(W1, W2), t.scalar("float64", this.rule.tieValue)));
    return this.negativesOf(t.where(this.isSoft, soft, hard), position);
  }
}

/** 2^24: the fixed-point scale of the float32 body's exact sums. */
const FIXED_SCALE = 2 ** 24;

/**
 * float32 arithmetic for builds without float64 kernels. Sums over the negatives are exact: logits
 * become int64 fixed point (round(x·2^24)) and all long prefix sums are int64. The negatives'
 * gradient uses per-segment coefficients: between consecutive edges of the merged order the window
 * (lo, hi) is constant and g is linear in v, so a (2P+1)×P matrix gives A_s and B_s at a point
 * inside each segment, and each negative costs a gather and a multiply-add.
 */
class RankingTermsF32 extends RankingTerms {
  private readonly merged: ReturnType<RankingTerms["mergedOrder"]>;
  private readonly negLogit: Value;

  constructor(g: GraphBuilder, inputs: BodyInputs, rule: StepRule) {
    super(g, inputs, rule, "float32");
    const t = this.t;
    this.negLogit = t.gather(inputs.logits, this.negIdx);
    this.merged = this.mergedOrder(t.add(this.posLogit, inputs.delta), this.negLogit, t.sub(this.posLogit, inputs.delta));
  }

  private fixed(x: Value): Value {
    const t = this.t;
    return t.cast(t.e.op1("Round", [t.mul(x, t.scalar("float32", FIXED_SCALE))], {}, { dtype: "float32" }), "int64");
  }

  falsePositives(): Value {
    const t = this.t;
    const { sorted, position, isNeg } = this.merged;
    const [upperPos, lowerPos] = this.edgePositions(position);
    const zeroI = t.scalar("int64", 0);
    // Centre the fixed-point values on the smallest positive so sums stay far from int64 limits.
    const centre = this.fixed(t.reduceMin(this.posLogit));
    const negCount = t.cumsum(t.cast(isNeg, "int64"));
    const negSum = t.cumsum(t.where(isNeg, t.sub(this.fixed(sorted), centre), zeroI));
    const a = t.gather(negCount, upperPos);
    const b = t.gather(negCount, lowerPos);
    const inWindow = t.sub(a, b);
    // Σ_window (v_k − s_i), exactly, then scaled back to float32.
    const windowFixed = t.sub(t.sub(t.gather(negSum, upperPos), t.gather(negSum, lowerPos)), t.mul(t.sub(this.fixed(this.posLogit), centre), inWindow));
    const windowTerm = t.mul(t.cast(windowFixed, "float32"), t.scalar("float32", 1 / FIXED_SCALE));
    const M = t.cast(this.Mi, "float32");
    const f = (x: Value) => t.cast(x, "float32");
    const soft = t.add(t.add(t.sub(M, f(a)), t.mul(f(inWindow), t.scalar("float32", 0.5))), t.mul(this.beta, windowTerm));
    const hard = t.add(t.sub(M, f(b)), t.mul(f(t.sub(b, a)), t.scalar("float32", this.rule.tieValue)));
    return t.where(this.isSoft, soft, hard);
  }

  negativeShare(w: Value): Value {
    const t = this.t;
    const { sorted, position, isNeg } = this.merged;
    // Segment of each merged element = edges before it; segment s lies between edge s−1 and edge s.
    const isEdge = t.not(isNeg);
    const segment = t.sub(t.cumsum(t.cast(isEdge, "int64")), t.cast(isEdge, "int64"));
    const edgeValues = t.gather(sorted, t.nonzero1d(isEdge)); // 2P ascending
    const one = t.scalar("float32", 1);
    const lefts = t.concat([t.sub(t.slice(edgeValues, t.e.ints([0]), t.e.ints([1])), one), edgeValues]);
    const rights = t.concat([edgeValues, t.add(t.slice(edgeValues, t.e.ints([-1]), t.e.ints([2 ** 62])), one)]);
    // A point inside each segment (an edge value itself for a zero-width segment).
    const rep = t.add(lefts, t.mul(t.sub(rights, lefts), t.scalar("float32", 0.5)));
    const x = t.sub(t.unsqueeze(rep, [1]), t.unsqueeze(this.posLogit, [0])); // [2P+1, P]
    const wRow = t.unsqueeze(w, [0]);
    const A = t.reduceSum(t.mul(this.step(x), wRow), [1]);
    const inWindow = t.cast(t.less(t.e.op1("Abs", [x], {}, { dtype: "float32" }), t.cast(this.inputs.delta, "float32")), "float32");
    const B = t.where(this.isSoft, t.mul(this.beta, t.reduceSum(t.mul(inWindow, wRow), [1])), t.scalar("float32", 0));
    const negSegment = this.negativesOf(segment, position);
    const negRep = t.gather(rep, negSegment);
    return t.add(t.gather(A, negSegment), t.mul(t.gather(B, negSegment), t.sub(this.negLogit, negRep)));
  }
}
