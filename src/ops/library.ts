// Every com.ranksort function, for attaching to a model that uses our ops.

import { clone, create, type FunctionProto, type ModelProto, ModelProtoSchema, OperatorSetIdProtoSchema } from "../onnx/proto.ts";
import { alrpLossFunction, alrpLossGradFunction } from "./bodies/alrp.ts";
import { apLossFunction, apLossGradFunction } from "./bodies/ap.ts";
import { rankSortLossFunction, rankSortLossGradFunction } from "./bodies/rank_sort.ts";
import { stopGradientFunction } from "./bodies/stop_gradient.ts";
import { DOMAIN, DOMAIN_VERSION, type OpName } from "./domain.ts";
import type { BodyPrecision } from "./bodies/ranking_terms.ts";

const BUILDERS: Record<OpName, (precision: BodyPrecision) => FunctionProto> = {
  RankSortLoss: rankSortLossFunction,
  RankSortLossGrad: rankSortLossGradFunction,
  APLoss: apLossFunction,
  APLossGrad: apLossGradFunction,
  ALRPLoss: alrpLossFunction,
  ALRPLossGrad: alrpLossGradFunction,
  StopGradient: stopGradientFunction,
};

/** Which functions an op needs (a Grad op calls its forward op). */
const NEEDS: Record<OpName, OpName[]> = {
  RankSortLoss: ["RankSortLoss"],
  RankSortLossGrad: ["RankSortLossGrad", "RankSortLoss"],
  APLoss: ["APLoss"],
  APLossGrad: ["APLossGrad", "APLoss"],
  ALRPLoss: ["ALRPLoss"],
  ALRPLossGrad: ["ALRPLossGrad", "ALRPLoss"],
  StopGradient: ["StopGradient"],
};

/**
 * An op's function body. "float64" (default) is exact everywhere float64 kernels exist; "float32"
 * is for onnxruntime builds without them (onnxruntime-web's WebGPU build), see FUNCTION_BODIES.md.
 */
export function opFunction(name: OpName, precision: BodyPrecision = "float64"): FunctionProto {
  return BUILDERS[name](precision);
}

/** The functions a model using `ops` must carry. */
export function functionsFor(ops: Iterable<OpName>, precision: BodyPrecision = "float64"): FunctionProto[] {
  const names = new Set<OpName>();
  for (const op of ops) for (const n of NEEDS[op]) names.add(n);
  return [...names].map((n) => opFunction(n, precision));
}

/**
 * Attach the function bodies of every com.ranksort op the graph uses (inline mode needs them), to a
 * copy of the model. Bodies the model already carries are kept, unless `replace` is set.
 */
export function withFunctionBodies(model: ModelProto, precision: BodyPrecision = "float64", replace = false): ModelProto {
  return addFunctionBodies(clone(ModelProtoSchema, model), precision, replace);
}

/** withFunctionBodies on the model itself (no copy: a 10 000-node train graph costs ~0.3 s to clone). */
export function addFunctionBodies(model: ModelProto, precision: BodyPrecision = "float64", replace = false): ModelProto {
  // Replacing swaps bodies the model already carries for ones of the requested precision.
  if (replace) model.functions = model.functions.filter((f) => f.domain !== DOMAIN);
  const used = usedOps(model);
  if (!used.size) return model;
  for (const fn of functionsFor(used, precision)) {
    if (!model.functions.some((f) => f.domain === fn.domain && f.name === fn.name)) model.functions.push(fn);
  }
  if (!model.opsetImport.some((o) => o.domain === DOMAIN)) model.opsetImport.push(create(OperatorSetIdProtoSchema, { domain: DOMAIN, version: BigInt(DOMAIN_VERSION) }));
  return model;
}

/** Whether addFunctionBodies would change the model (a body or the domain's opset is missing). */
export function lacksFunctionBodies(model: ModelProto, precision: BodyPrecision = "float64", replace = false): boolean {
  const used = usedOps(model);
  if (!used.size) return replace && model.functions.some((f) => f.domain === DOMAIN);
  if (replace) return true;
  if (!model.opsetImport.some((o) => o.domain === DOMAIN)) return true;
  return functionsFor(used, precision).some((fn) => !model.functions.some((f) => f.domain === fn.domain && f.name === fn.name));
}

function usedOps(model: ModelProto): Set<OpName> {
  return new Set(model.graph!.node.filter((n) => n.domain === DOMAIN).map((n) => n.opType as OpName));
}
