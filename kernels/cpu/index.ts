// CPU kernels: exact Rank & Sort, AP and aLRP losses with their identity-update gradients.
export { rankSortLoss, type RankSortOptions, type RankSortResult } from "./rank_sort.ts";
export { apLoss, type APLossOptions, type APLossResult } from "./ap.ts";
export { alrpLoss, type ALRPLossOptions, type ALRPLossResult } from "./alrp.ts";
export { RankSortInputError } from "./inputs.ts";
