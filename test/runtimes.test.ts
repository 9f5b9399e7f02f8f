// The same golden cases through the CPU kernels in Deno and Node (Bun runs golden.test.ts itself).
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { goldenDir } from "./support/golden.ts";

const root = resolve(import.meta.dir, "..");
const dir = goldenDir();
const check = join(root, "test", "support", "runtime_check.ts");
const bin = (name: string) => join(root, "node_modules", ".bin", name);

function summary(stdout: string): { host: string; cases: number; failed: string[] } {
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

describe.skipIf(!dir)("golden cases in other runtimes", () => {
  test("Deno", () => {
    const r = spawnSync(bin("deno"), ["run", "--allow-read", "--allow-env", check, dir!], { encoding: "utf8" });
    expect(r.stderr).not.toContain("error:");
    expect(r.status).toBe(0);
    const s = summary(r.stdout);
    expect(s.host).toBe("deno");
    expect(s.cases).toBeGreaterThan(30);
    expect(s.failed).toEqual([]);
  });

  test("Node (sources bundled to one ES module by bun build)", () => {
    const out = mkdtempSync(join(tmpdir(), "ranksort-node-"));
    try {
      const bundle = join(out, "check.mjs");
      const b = spawnSync(bin("bun"), ["build", check, "--target", "node", "--outfile", bundle], { encoding: "utf8" });
      expect(b.status).toBe(0);
      const r = spawnSync("node", [bundle, dir!], { encoding: "utf8" });
      expect(r.status).toBe(0);
      const s = summary(r.stdout);
      expect(s.host).toBe("node");
      expect(s.cases).toBeGreaterThan(30);
      expect(s.failed).toEqual([]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
