// The golden cases through a list of loss backends: one row per backend and loss with the worst
// errors and the failures. No file system, so browser pages use it too.
import { getBackend } from "../../src/backends/index.ts";
import { compareOutputs, evaluateCase } from "../../src/cases/evaluate_case.ts";
import type { LossCase } from "../../src/cases/golden_case.ts";

export interface MatrixRow {
  backend: string;
  loss: string;
  cases: number;
  maxLossError: number;
  maxGradRatio: number;
  failed: string[];
}

export async function goldenMatrix(cases: readonly { file: string; c: LossCase }[], backends: readonly string[]): Promise<MatrixRow[]> {
  const rows: MatrixRow[] = [];
  for (const name of backends) {
    let backend;
    try {
      backend = await getBackend(name);
    } catch (e) {
      rows.push({ backend: name, loss: "*", cases: 0, maxLossError: NaN, maxGradRatio: NaN, failed: [`unavailable: ${(e as Error).message}`] });
      continue;
    }
    for (const loss of ["rank_sort", "ap", "alrp"]) {
      const row: MatrixRow = { backend: name, loss, cases: 0, maxLossError: 0, maxGradRatio: 0, failed: [] };
      for (const { file, c } of cases.filter((x) => x.c.loss === loss)) {
        try {
          const cmp = compareOutputs(await evaluateCase(c, backend), c.outputs!);
          row.cases++;
          row.maxLossError = Math.max(row.maxLossError, cmp.lossError);
          row.maxGradRatio = Math.max(row.maxGradRatio, cmp.gradToleranceRatio);
          if (!cmp.pass) row.failed.push(`${file}: loss error ${cmp.lossError}, grad ratio ${cmp.gradToleranceRatio}`);
        } catch (e) {
          row.failed.push(`${file}: ${(e as Error).message.split("\n")[0]}`);
        }
      }
      rows.push(row);
    }
  }
  return rows;
}
