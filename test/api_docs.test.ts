// docs/API.md (scripts/api_docs.mjs, run by `npm run build`) lists every export of every entry
// point with its declaration, and the committed file is current.
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");

test("docs/API.md is current and covers the public entry points", async () => {
  const r = spawnSync("node", [join(root, "scripts", "api_docs.mjs"), "--check"], { encoding: "utf8" });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  const md = readFileSync(join(root, "docs", "API.md"), "utf8");
  for (const entry of ["ranksort", "ranksort/onnx", "ranksort/train", "ranksort/detect", "ranksort/webgpu", "ranksort/cuda", "ranksort/cases"]) expect(md).toContain(`## \`${entry}\``);
  const main = await import("../src/index.ts");
  for (const name of Object.keys(main)) expect(md).toContain(`| \`${name}\` |`);
  expect(md).toMatch(/\| `rankSortLoss` \| `function rankSortLoss\(logits: /);
});
