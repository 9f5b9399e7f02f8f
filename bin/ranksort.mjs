#!/usr/bin/env node
// The `ranksort` command. Bun and Deno run the TypeScript sources directly; under Node this
// re-executes the same command with the Bun runtime installed beside the package.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, "..", "src", "cli", "main.ts");

if (globalThis.Bun || globalThis.Deno) {
  const { main } = await import(entry);
  process.exitCode = await main(process.argv.slice(2));
} else {
  let bun;
  try {
    bun = join(dirname(createRequire(import.meta.url).resolve("bun/package.json")), "bin", "bun.exe");
  } catch {
    console.error("ranksort: under Node this command needs the `bun` package (npm install bun), or run it with bun or deno directly.");
    process.exit(1);
  }
  const r = spawnSync(bun, [entry, ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(r.status ?? 1);
}
