#!/usr/bin/env node
// The `ranksort` command, in-process on every runtime: the compiled CLI (dist/) on Node, and on Deno
// inside node_modules (Deno does not strip types there); the TypeScript sources where the runtime runs
// them (Bun; Deno in a clone), so a clone needs no build and never runs a stale one.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import process from "node:process";

const root = new URL("../", import.meta.url);
const source = new URL("src/cli/main.ts", root);
const built = new URL("dist/src/cli/main.js", root);
const runsTypeScript = Boolean(globalThis.Bun) || (Boolean(globalThis.Deno) && !fileURLToPath(root).split(/[\\/]/).includes("node_modules"));
const entry = runsTypeScript && existsSync(source) ? source : built;
if (entry === built && !existsSync(built)) {
  console.error("ranksort: the compiled CLI (dist/) is missing: run `npm run build` in the package, or run the sources with bun or deno");
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
