// Every com.ranksort function, for attaching to a model that uses our ops.

import type { FunctionProto } from "../onnx/proto.ts";
import { alrpLossFunction, alrpLossGradFunction } from "./bodies/alrp.ts";
import { apLossFunction, apLossGradFunction } from "./bodies/ap.ts";
import { rankSortLossFunction, rankSortLossGradFunction } from "./bodies/rank_sort.ts";
import type { OpName } from "./domain.ts";
import type { BodyPrecision } from "./bodies/ranking_terms.ts";

const BUILDERS: Record<OpName, (precision: BodyPrecision) => FunctionProto> = {
  RankSortLoss: rankSortLossFunction,
  RankSortLossGrad: rankSortLossGradFunction,
  APLoss: apLossFunction,
  APLossGrad: apLossGradFunction,
  ALRPLoss: alrpLossFunction,
  ALRPLossGrad: alrpLossGradFunction,
};

/** Which functions an op needs (a Grad op calls its forward op). */
const NEEDS: Record<OpName, OpName[]> = {
  RankSortLoss: ["RankSortLoss"],
  RankSortLossGrad: ["RankSortLossGrad", "RankSortLoss"],
  APLoss: ["APLoss"],
  APLossGrad: ["APLossGrad", "APLoss"],
  ALRPLoss: ["ALRPLoss"],
  ALRPLossGrad: ["ALRPLossGrad", "ALRPLoss"],
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
