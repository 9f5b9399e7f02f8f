// The CPU kernels as a loss backend.
import { alrpLoss, apLoss, rankSortLoss } from "../../kernels/cpu/index.ts";
import type { LossBackend } from "./loss_backend.ts";

export const cpuBackend: LossBackend = {
  name: "cpu",
  description: "exact TypeScript kernels, O((P + N) log P), float64 accumulation",
  rankSort: async (logits, targets, opts) => rankSortLoss(logits, targets, opts),
  ap: async (logits, targets, opts) => apLoss(logits, targets, opts),
  alrp: async (logits, targets, reg, opts) => alrpLoss(logits, targets, reg, opts),
};
