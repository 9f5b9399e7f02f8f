// RankSortLoss and RankSortLossGrad as ONNX functions of standard ops.

import { float, FunctionBuilder, ref } from "../../onnx/builder.ts";
import type { FunctionProto } from "../../onnx/proto.ts";
import { TensorOps } from "../../onnx/tensor_ops.ts";
import { BODY_OPSET, DOMAIN, DOMAIN_VERSION, OPS } from "../domain.ts";
import { ifPositives } from "./branch.ts";
import { type BodyPrecision, bodyInputs, RankingTerms, type StepRule } from "./ranking_terms.ts";

const RULE: StepRule = { tieValue: 1, positive: "greater-than-zero" };
const ATTRIBUTES = [
  { name: "delta", default: float(OPS.RankSortLoss.attributes.delta!) },
  { name: "eps", default: float(OPS.RankSortLoss.attributes.eps!) },
];

export function rankSortLossFunction(precision: BodyPrecision = "float64"): FunctionProto {
  const f = new FunctionBuilder(DOMAIN, "RankSortLoss", { "": BODY_OPSET }, ATTRIBUTES, OPS.RankSortLoss.doc, OPS.RankSortLoss.outputs);
  const top = new TensorOps(f);
  const inputs = bodyInputs(top, f.input("logits", "float32"), f.input("targets", "float32"), RULE);
  const eps = top.attrScalar("eps", precision);
  ifPositives(
    f,
    inputs,
    [
      { name: "ranking_loss", dtype: "float32", empty: "scalar-zero" },
      { name: "sorting_loss", dtype: "float32", empty: "scalar-zero" },
      { name: "grad_ranking", dtype: "float32", empty: "zeros-like-logits" },
      { name: "grad_sorting", dtype: "float32", empty: "zeros-like-logits" },
    ],
    (g) => {
      const r = RankingTerms.create(g, inputs, RULE, precision);
      const t = r.t;
      const { H, posTarget } = r;
      const one = t.scalar(r.real, 1);
      const zero = t.scalar(r.real, 0);
      const rankPos = t.reduceSum(H, [1]);
      const miss = t.unsqueeze(t.sub(one, posTarget), [0]); // 1 − t_j as a row
      const current = t.reduceSum(t.mul(H, miss), [1]);
      // Target order: only positives with t_j ≥ t_i; HLower keeps the rest (t_j < t_i).
      const atLeast = t.cast(t.greaterOrEqual(t.unsqueeze(posTarget, [0]), t.unsqueeze(posTarget, [1])), r.real);
      const HTarget = t.mul(H, atLeast);
      const HLower = t.sub(H, HTarget);
      const targetRank = t.reduceSum(HTarget, [1]);
      const targetSorted = t.reduceSum(t.mul(HTarget, miss), [1]);
      const sortDenom = t.reduceSum(HLower, [1]);
      const sortingError = t.sub(t.div(current, rankPos), t.div(targetSorted, targetRank));

      const fp = r.falsePositives();
      const rank = t.add(rankPos, fp);
      const rankingError = t.div(fp, rank);
      const invP = t.div(one, r.P);

      const rankGate = t.greater(fp, eps);
      const sortGate = t.greater(sortDenom, eps);
      const posRanking = t.mul(t.where(rankGate, t.neg(rankingError), zero), invP);
      const negWeight = t.where(rankGate, t.div(one, rank), zero);
      const sortWeight = t.where(sortGate, t.div(sortingError, sortDenom), zero);
      // Each positive j receives Σ_i sortWeight_i · HLower[i, j].
      const received = t.reshape(t.matmul(t.unsqueeze(sortWeight, [0]), HLower), [-1]);
      const posSorting = t.mul(t.add(t.where(sortGate, t.neg(sortingError), zero), received), invP);
      const negRanking = t.mul(r.negativeShare(negWeight), invP);

      return [
        t.cast(t.mul(t.reduceSum(rankingError), invP), "float32"),
        t.cast(t.mul(t.reduceSum(sortingError), invP), "float32"),
        r.scatterGradient(posRanking, negRanking),
        r.scatterGradient(posSorting, undefined),
      ];
    },
  );
  return f.build();
}

export function rankSortLossGradFunction(): FunctionProto {
  const f = new FunctionBuilder(DOMAIN, "RankSortLossGrad", { "": BODY_OPSET, [DOMAIN]: DOMAIN_VERSION }, ATTRIBUTES, OPS.RankSortLossGrad.doc, OPS.RankSortLossGrad.outputs);
  const t = new TensorOps(f);
  const logits = f.input("logits", "float32");
  const targets = f.input("targets", "float32");
  const dRanking = f.input("d_ranking_loss", "float32");
  const dSorting = f.input("d_sorting_loss", "float32");
  const [, , gr, gs] = f.op("RankSortLoss", [logits, targets], { delta: ref("delta"), eps: ref("eps") }, { domain: DOMAIN, outputs: ["rl", "sl", "gr", "gs"] });
  f.output(t.add(t.mul(gr!, dRanking), t.mul(gs!, dSorting)), "d_logits");
  return f.build();
}
