// A standalone model around one loss op: inputs logits/targets (plus regression_losses), outputs the
// losses and `grad` (unit upstream weights; RankSortLoss also gives its two parts). Stock onnxruntime runs it with no ranksort code: the
// op's function body travels inside the model.

import { float, GraphBuilder } from "../onnx/builder.ts";
import type { ModelProto } from "../onnx/proto.ts";
import { BODY_OPSET, DOMAIN, DOMAIN_VERSION } from "./domain.ts";
import { functionsFor } from "./library.ts";
import type { BodyPrecision } from "./bodies/ranking_terms.ts";

export type LossOpName = "RankSortLoss" | "APLoss" | "ALRPLoss";

export interface StandaloneOptions {
  delta?: number;
  eps?: number;
  /** Function-body precision (default float64; float32 for onnxruntime-web's WebGPU build). */
  precision?: BodyPrecision;
}

/**
 * A standalone ONNX model of one com.ranksort loss op — inputs `logits`, `targets` (and
 * `regression_losses`), outputs the losses and `grad` — that carries the op's function body, so stock
 * onnxruntime runs it anywhere.
 */
export function standaloneLossModel(op: LossOpName, opts: StandaloneOptions = {}): ModelProto {
  const g = new GraphBuilder(`ranksort_${op}`, { "": BODY_OPSET, [DOMAIN]: DOMAIN_VERSION });
  for (const fn of functionsFor([op], opts.precision)) g.addFunction(fn, DOMAIN_VERSION);
  const logits = g.input("logits", "float32", ["N"]);
  const targets = g.input("targets", "float32", ["N"]);
  const attrs: Record<string, ReturnType<typeof float>> = {};
  if (opts.delta !== undefined) attrs.delta = float(opts.delta);
  if (opts.eps !== undefined) attrs.eps = float(opts.eps);
  if (op === "RankSortLoss") {
    const [rl, sl, gr, gs] = g.op(op, [logits, targets], attrs, { domain: DOMAIN, outputs: ["rl", "sl", "gr", "gs"] });
    g.output(rl!, "ranking_loss", "float32", []);
    g.output(sl!, "sorting_loss", "float32", []);
    g.output(g.op1("Add", [gr!, gs!]), "grad", "float32", ["N"]);
    g.output(gr!, "grad_ranking", "float32", ["N"]);
    g.output(gs!, "grad_sorting", "float32", ["N"]);
  } else if (op === "APLoss") {
    const [loss, grad] = g.op(op, [logits, targets], attrs, { domain: DOMAIN, outputs: ["l", "g"] });
    g.output(loss!, "loss", "float32", []);
    g.output(grad!, "grad", "float32", ["N"]);
  } else {
    const reg = g.input("regression_losses", "float32", ["P"]);
    const [loss, grad, rank, order] = g.op(op, [logits, targets, reg], attrs, { domain: DOMAIN, outputs: ["l", "g", "r", "o"] });
    g.output(loss!, "loss", "float32", []);
    g.output(grad!, "grad", "float32", ["N"]);
    g.output(rank!, "rank", "float32", ["P"]);
    g.output(order!, "order", "int64", ["P"]);
  }
  return g.model({ docString: `ranksort ${op} with its portable function body (domain ${DOMAIN} v${DOMAIN_VERSION})` });
}
