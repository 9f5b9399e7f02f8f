// ranksort: Rank & Sort Loss (and AP / aLRP) for TypeScript on ONNX Runtime.
export {
  alrpLoss,
  apLoss,
  rankSortLoss,
  RankSortInputError,
  type ALRPLossOptions,
  type ALRPLossResult,
  type APLossOptions,
  type APLossResult,
  type RankSortOptions,
  type RankSortResult,
} from "../kernels/cpu/index.ts";
export { readCase } from "./cases/case_file.ts";
export type { LossCase } from "./cases/golden_case.ts";
