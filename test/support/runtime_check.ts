// Runs every golden case through the given loss backends in whatever runtime executes this file
// (Bun, Deno, Node after bundling, a browser page) and prints one JSON line: per backend and loss,
// the number of cases, the worst loss error and gradient error/tolerance, and the failures.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { getBackend } from "../../src/backends/index.ts";
import { compareOutputs, evaluateCase } from "../../src/cases/evaluate_case.ts";
import { readCase } from "../../src/cases/case_file.ts";

export interface MatrixRow {
  backend: string;
  loss: string;
  cases: number;
  maxLossError: number;
  maxGradRatio: number;
  failed: string[];
}

const [dir, backendList = "cpu"] = process.argv.slice(2);
if (!dir) throw new Error("usage: runtime_check <golden-dir> [backend,backend…]");
const files = readdirSync(dir).filter((f) => /\.json(\.gz)?$/.test(f) && f !== "MANIFEST.json");
const cases = files.map((f) => ({ file: f, c: readCase(join(dir, f)) }));
const rows: MatrixRow[] = [];
for (const name of backendList.split(",")) {
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
const g = globalThis as { Bun?: unknown; Deno?: unknown };
const host = g.Bun ? "bun" : g.Deno ? "deno" : "node";
console.log(JSON.stringify({ host, cases: cases.length, rows }));
