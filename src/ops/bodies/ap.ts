// APLoss and APLossGrad as ONNX functions of standard ops.

import { float, FunctionBuilder, ref } from "../../onnx/builder.ts";
import type { FunctionProto } from "../../onnx/proto.ts";
import { TensorOps } from "../../onnx/tensor_ops.ts";
import { BODY_OPSET, DOMAIN, DOMAIN_VERSION, OPS } from "../domain.ts";
import { ifPositives } from "./branch.ts";
import { type BodyPrecision, bodyInputs, RankingTerms, type StepRule } from "./ranking_terms.ts";

export const AP_RULE: StepRule = { tieValue: 0.5, positive: "exactly-one" };
const ATTRIBUTES = [{ name: "delta", default: float(OPS.APLoss.attributes.delta!) }];

export function apLossFunction(precision: BodyPrecision = "float64"): FunctionProto {
  const f = new FunctionBuilder(DOMAIN, "APLoss", { "": BODY_OPSET }, ATTRIBUTES, OPS.APLoss.doc, OPS.APLoss.outputs);
  const inputs = bodyInputs(new TensorOps(f), f.input("logits", "float32"), f.input("targets", "float32"), AP_RULE);
  ifPositives(
    f,
    inputs,
    [
      { name: "loss", dtype: "float32", empty: "scalar-zero" },
      { name: "grad", dtype: "float32", empty: "zeros-like-logits" },
    ],
    (g) => {
      const r = RankingTerms.create(g, inputs, AP_RULE, precision);
      const t = r.t;
      const one = t.scalar(r.real, 1);
      // rank⁺ = 1 + Σ_{j≠i} H_ij = Σ_j H_ij + 1 − H(0), and H(0) = ½ for every δ here.
      const rankPos = t.add(t.reduceSum(r.H, [1]), t.scalar(r.real, 0.5));
      const rank = t.add(rankPos, r.falsePositives());
      const prec = t.div(rankPos, rank);
      // Running maximum in ascending logit order = max over positives with q_j ≤ q_i (ties have
      // equal prec, so including all of them changes nothing).
      const notAbove = t.lessOrEqual(t.unsqueeze(r.posLogit, [0]), t.unsqueeze(r.posLogit, [1]));
      const maxPrecision = t.reduceMax(t.where(notAbove, t.unsqueeze(prec, [0]), t.scalar(r.real, -1)), [1]);
      const isNewMax = t.equal(maxPrecision, prec);
      const negWeight = t.where(isNewMax, t.div(one, rank), t.div(t.div(t.sub(one, maxPrecision), t.sub(one, prec)), rank));
      const invP = t.div(one, r.P);
      const posGrad = t.mul(t.neg(t.sub(one, maxPrecision)), invP);
      const negGrad = t.mul(r.negativeShare(negWeight), invP);
      return [t.cast(t.sub(one, t.mul(t.reduceSum(maxPrecision), invP)), "float32"), r.scatterGradient(posGrad, negGrad)];
    },
  );
  return f.build();
}

export function apLossGradFunction(): FunctionProto {
  const f = new FunctionBuilder(DOMAIN, "APLossGrad", { "": BODY_OPSET, [DOMAIN]: DOMAIN_VERSION }, ATTRIBUTES, OPS.APLossGrad.doc, OPS.APLossGrad.outputs);
  const t = new TensorOps(f);
  const logits = f.input("logits", "float32");
  const targets = f.input("targets", "float32");
  const dLoss = f.input("d_loss", "float32");
  const [, grad] = f.op("APLoss", [logits, targets], { delta: ref("delta") }, { domain: DOMAIN, outputs: ["l", "g"] });
  f.output(t.mul(grad!, dLoss), "d_logits");
  return f.build();
}
