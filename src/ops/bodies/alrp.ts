// ALRPLoss and ALRPLossGrad as ONNX functions of standard ops.

import { float, FunctionBuilder, ref } from "../../onnx/builder.ts";
import type { FunctionProto } from "../../onnx/proto.ts";
import { TensorOps } from "../../onnx/tensor_ops.ts";
import { BODY_OPSET, DOMAIN, DOMAIN_VERSION, OPS } from "../domain.ts";
import { AP_RULE } from "./ap.ts";
import { ifPositives } from "./branch.ts";
import { type BodyPrecision, bodyInputs, RankingTerms } from "./ranking_terms.ts";

const ATTRIBUTES = [
  { name: "delta", default: float(OPS.ALRPLoss.attributes.delta!) },
  { name: "eps", default: float(OPS.ALRPLoss.attributes.eps!) },
];

export function alrpLossFunction(precision: BodyPrecision = "float64"): FunctionProto {
  const f = new FunctionBuilder(DOMAIN, "ALRPLoss", { "": BODY_OPSET }, ATTRIBUTES, OPS.ALRPLoss.doc, OPS.ALRPLoss.outputs);
  const top = new TensorOps(f);
  const inputs = bodyInputs(top, f.input("logits", "float32"), f.input("targets", "float32"), AP_RULE);
  const regression = f.input("regression_losses", "float32");
  const eps = top.attrScalar("eps", precision);
  ifPositives(
    f,
    inputs,
    [
      { name: "loss", dtype: "float32", empty: "scalar-zero" },
      { name: "grad", dtype: "float32", empty: "zeros-like-logits" },
      { name: "rank", dtype: "float32", empty: "empty-float" },
      { name: "order", dtype: "int64", empty: "empty-int64" },
    ],
    (g) => {
      const r = RankingTerms.create(g, inputs, AP_RULE, precision);
      const t = r.t;
      const one = t.scalar(r.real, 1);
      const zero = t.scalar(r.real, 0);
      const half = t.scalar(r.real, 0.5);
      const reg = t.cast(regression, r.real);
      const rankPos = t.add(t.reduceSum(r.H, [1]), half);
      // Σ_{j≠i} H_ij ℓ_j = (H ℓ)_i − H(0) ℓ_i.
      const regSum = t.sub(t.reshape(t.matmul(r.H, t.unsqueeze(reg, [1])), [-1]), t.mul(reg, half));
      const fp = r.falsePositives();
      const rank = t.add(rankPos, fp);
      const prec = t.div(rankPos, rank);
      const gate = t.greater(fp, eps);
      const posUpdate = t.where(gate, t.neg(t.div(t.add(regSum, fp), rank)), zero);
      const negWeight = t.where(gate, t.div(t.neg(posUpdate), fp), zero);
      const invP = t.div(one, r.P);
      const grad = r.scatterGradient(t.mul(posUpdate, invP), t.mul(r.negativeShare(negWeight), invP));
      const [, order] = t.sortAscending(r.posLogit, inputs.count);
      return [t.cast(t.sub(one, t.mul(t.reduceSum(prec), invP)), "float32"), grad, t.cast(rank, "float32"), order];
    },
  );
  return f.build();
}

export function alrpLossGradFunction(): FunctionProto {
  const f = new FunctionBuilder(DOMAIN, "ALRPLossGrad", { "": BODY_OPSET, [DOMAIN]: DOMAIN_VERSION }, ATTRIBUTES, OPS.ALRPLossGrad.doc, OPS.ALRPLossGrad.outputs);
  const t = new TensorOps(f);
  const logits = f.input("logits", "float32");
  const targets = f.input("targets", "float32");
  const regression = f.input("regression_losses", "float32");
  const dLoss = f.input("d_loss", "float32");
  const [, grad] = f.op("ALRPLoss", [logits, targets, regression], { delta: ref("delta"), eps: ref("eps") }, { domain: DOMAIN, outputs: ["l", "g", "r", "o"] });
  f.output(t.mul(grad!, dLoss), "d_logits");
  return f.build();
}
