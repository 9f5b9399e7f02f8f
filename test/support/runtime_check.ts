// Runs every golden case through the given loss backends in whatever runtime executes this file
// (Bun, Deno, or Node after bundling) and prints one JSON line with the matrix rows.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { readCase } from "../../src/cases/case_file.ts";
import { goldenMatrix } from "./golden_matrix.ts";

export type { MatrixRow } from "./golden_matrix.ts";

const [dir, backendList = "cpu"] = process.argv.slice(2);
if (!dir) throw new Error("usage: runtime_check <golden-dir> [backend,backend…]");
const files = readdirSync(dir).filter((f) => /\.json(\.gz)?$/.test(f) && f !== "MANIFEST.json");
const cases = files.map((f) => ({ file: f, c: readCase(join(dir, f)) }));
const rows = await goldenMatrix(cases, backendList.split(","));
const g = globalThis as { Bun?: unknown; Deno?: unknown };
const host = g.Bun ? "bun" : g.Deno ? "deno" : "node";
console.log(JSON.stringify({ host, cases: cases.length, rows }));
