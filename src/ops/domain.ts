// Our ONNX operator domain and the signatures of its operators.

export const DOMAIN = "com.ranksort";
export const DOMAIN_VERSION = 1;
/** Default-domain opset the function bodies are written against. */
export const BODY_OPSET = 17;

export type OpName = "RankSortLoss" | "RankSortLossGrad" | "APLoss" | "APLossGrad" | "ALRPLoss" | "ALRPLossGrad" | "StopGradient";

export interface OpSignature {
  inputs: readonly string[];
  /** Outputs; those after `requiredOutputs` may be omitted by a node. */
  outputs: readonly string[];
  requiredOutputs: number;
  attributes: Readonly<Record<string, number>>;
  doc: string;
}

export const OPS: Readonly<Record<OpName, OpSignature>> = {
  RankSortLoss: {
    inputs: ["logits", "targets"],
    outputs: ["ranking_loss", "sorting_loss", "grad_ranking", "grad_sorting"],
    requiredOutputs: 2,
    attributes: { delta: 0.5, eps: 1e-10 },
    doc: "Rank & Sort loss over flat logits/targets (targets: IoU > 0 positive, 0 negative, < 0 ignored). Optional outputs: the ranking and sorting identity updates (already divided by P).",
  },
  RankSortLossGrad: {
    inputs: ["logits", "targets", "d_ranking_loss", "d_sorting_loss"],
    outputs: ["d_logits"],
    requiredOutputs: 1,
    attributes: { delta: 0.5, eps: 1e-10 },
    doc: "d_logits = d_ranking_loss·grad_ranking + d_sorting_loss·grad_sorting (both upstream weights honoured, unlike the reference's backward).",
  },
  APLoss: {
    inputs: ["logits", "targets"],
    outputs: ["loss", "grad"],
    requiredOutputs: 1,
    attributes: { delta: 1 },
    doc: "AP loss (targets: 1 positive, 0 negative, < 0 ignored). Optional output: the identity-update gradient.",
  },
  APLossGrad: {
    inputs: ["logits", "targets", "d_loss"],
    outputs: ["d_logits"],
    requiredOutputs: 1,
    attributes: { delta: 1 },
    doc: "d_logits = d_loss·grad of APLoss.",
  },
  ALRPLoss: {
    inputs: ["logits", "targets", "regression_losses"],
    outputs: ["loss", "grad", "rank", "order"],
    requiredOutputs: 1,
    attributes: { delta: 1, eps: 1e-5 },
    doc: "aLRP loss (classification part); regression_losses: one per positive in flattened order. Optional outputs: gradient, rank of each positive, ascending order of the positives.",
  },
  StopGradient: {
    inputs: ["x"],
    outputs: ["y"],
    requiredOutputs: 1,
    attributes: {},
    doc: "y = x; gradient graphs pass nothing back through it (the detach of the official heads' IoU targets, box weights and λ).",
  },
  ALRPLossGrad: {
    inputs: ["logits", "targets", "regression_losses", "d_loss"],
    outputs: ["d_logits"],
    requiredOutputs: 1,
    attributes: { delta: 1, eps: 1e-5 },
    doc: "d_logits = d_loss·grad of ALRPLoss.",
  },
};
