// Runs every golden case through the CPU kernels in whatever runtime executes this file (Bun, Deno,
// or Node after bundling) and prints one JSON summary line. Used by test/runtimes.test.ts.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { cpuBackend } from "../../src/backends/cpu.ts";
import { compareOutputs, evaluateCase } from "../../src/cases/evaluate_case.ts";
import { readCase } from "../../src/cases/golden_case.ts";

const dir = process.argv[2];
if (!dir) throw new Error("usage: runtime_check <golden-dir>");
const failed: string[] = [];
let cases = 0;
for (const file of readdirSync(dir).filter((f) => /\.json(\.gz)?$/.test(f) && f !== "MANIFEST.json")) {
  const c = readCase(join(dir, file));
  const cmp = compareOutputs(await evaluateCase(c, cpuBackend), c.outputs!);
  cases++;
  if (!cmp.pass) failed.push(`${file}: loss error ${cmp.lossError}, grad ratio ${cmp.gradToleranceRatio}`);
}
const g = globalThis as { Bun?: unknown; Deno?: unknown };
const host = g.Bun ? "bun" : g.Deno ? "deno" : "node";
console.log(JSON.stringify({ host, cases, failed }));
