// The whole WGSL program: one module, one pipeline per entry point.
import { AP_ALRP } from "./ap_alrp.ts";
import { GRAD_OPS } from "./grad_ops.ts";
import { NEGATIVES } from "./negatives.ts";
import { POSITIVES } from "./positives.ts";
import { PRELUDE } from "./prelude.ts";
import { RANK_SORT } from "./rank_sort.ts";
import { SHARED_PASSES } from "./shared_passes.ts";

export const WGSL_SOURCE = [PRELUDE, POSITIVES, NEGATIVES, SHARED_PASSES, RANK_SORT, AP_ALRP, GRAD_OPS].join("\n");

export const ENTRY_POINTS = [
  "scan_inputs",
  "setup",
  "sort",
  "edges",
  "negative_counts",
  "negative_grads",
  "count_prefix",
  "false_positives",
  "weight_prefix",
  "segment_coefficients",
  "rank_sort_pairs",
  "rank_sort_receive",
  "rank_sort_weights",
  "rank_sort_losses",
  "ap_pairs",
  "ap_weights",
  "alrp_weights",
  "mean_loss",
  "combine_rank_sort",
  "scale_grad",
] as const;
export type EntryPoint = (typeof ENTRY_POINTS)[number];
