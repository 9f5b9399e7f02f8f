// Run a golden-format case through a backend and shape the result like the golden `outputs`.

import type { LossBackend } from "../backends/loss_backend.ts";
import type { LossCase } from "./golden_case.ts";
import { LOSS_TOL, maxToleranceRatio } from "./tolerance.ts";

export type CaseOutputs =
  | { ranking_loss: number; sorting_loss: number; grad: number[] }
  | { loss: number; grad: number[] }
  | { loss: number; grad: number[]; rank: number[]; order: number[] };

export async function evaluateCase(c: LossCase, backend: LossBackend): Promise<CaseOutputs> {
  switch (c.loss) {
    case "rank_sort": {
      const r = await backend.rankSort(c.logits, c.targets, { delta: c.params.delta_RS ?? c.params.delta, eps: c.params.eps });
      return { ranking_loss: r.rankingLoss, sorting_loss: r.sortingLoss, grad: Array.from(r.grad) };
    }
    case "ap": {
      const r = await backend.ap(c.logits, c.targets, { delta: c.params.delta });
      return { loss: r.loss, grad: Array.from(r.grad) };
    }
    case "alrp": {
      const r = await backend.alrp(c.logits, c.targets, c.regressionLosses!, { delta: c.params.delta, eps: c.params.eps });
      return { loss: r.loss, grad: Array.from(r.grad), rank: Array.from(r.rank), order: Array.from(r.order) };
    }
  }
}

export interface CaseComparison {
  lossError: number;
  gradToleranceRatio: number;
  pass: boolean;
}

/** Compare with reference outputs within the golden tolerances. */
export function compareOutputs(actual: CaseOutputs, expected: Record<string, unknown>): CaseComparison {
  const a = actual as Record<string, unknown>;
  let lossError = 0;
  for (const key of ["ranking_loss", "sorting_loss", "loss"]) {
    if (typeof a[key] === "number") {
      const e = expected[key];
      lossError = Math.max(lossError, typeof e === "number" ? Math.abs((a[key] as number) - e) : Infinity);
    }
  }
  const e = expected.grad;
  const gradToleranceRatio = Array.isArray(e) ? maxToleranceRatio(a.grad as number[], e as number[]) : Infinity;
  return { lossError, gradToleranceRatio, pass: lossError <= LOSS_TOL && gradToleranceRatio <= 1 };
}
