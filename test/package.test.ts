// The package as a user gets it: `npm pack`, the tarball installed into a fresh project (with
// onnxruntime-node, the offline switch for its CUDA download set), then Node, the CLI under Node
// (no Bun in that project), the consumer's tsc (nodenext, strict), Deno through node_modules, and
// the main entry bundled for a browser and run in headless Chromium. One install serves every check.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const work = mkdtempSync(join(tmpdir(), "ranksort-package-"));
const app = join(work, "app");
const tinyCase = join(root, "test", "exactness", "rs_tiny_delta0.5.json");
const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip", NO_COLOR: "1" };
const chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));

function sh(cmd: string, args: string[], opts: SpawnSyncOptions = {}) {
  const r = spawnSync(cmd, args, { cwd: app, env, encoding: "utf8", ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${String(r.stdout).slice(-1500)}\n${String(r.stderr).slice(-3000)}`);
  return String(r.stdout);
}
const lastJson = (out: string) => JSON.parse(out.trim().split("\n").filter((l) => l.startsWith("{")).at(-1)!);

beforeAll(() => {
  mkdirSync(app);
  sh("npm", ["pack", "--silent", "--pack-destination", work], { cwd: root });
  const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"))!;
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  for (const f of readdirSync(join(root, "test", "consumer"))) copyFileSync(join(root, "test", "consumer", f), join(app, f));
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
  const ortVersion = lock.packages["node_modules/onnxruntime-node"].version;
  sh("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(work, tarball), `onnxruntime-node@${ortVersion}`]);
}, 240_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the packed package in a fresh project", () => {
  test("ships compiled JS, types and source maps, and no test or benchmark code", () => {
    const pkg = join(app, "node_modules", "ranksort");
    for (const f of ["dist/src/index.js", "dist/src/index.d.ts", "dist/src/index.js.map", "dist/src/entries/detect.js", "dist/src/cli/main.js", "bin/ranksort.mjs"]) expect(existsSync(join(pkg, f))).toBe(true);
    expect(existsSync(join(pkg, "test"))).toBe(false);
    expect(existsSync(join(pkg, "bench"))).toBe(false);
    // Optional peers stay out unless asked for; Bun is not installed with the package.
    for (const absent of ["bun", "onnxruntime-web", "webgpu", "koffi"]) expect(existsSync(join(app, "node_modules", absent))).toBe(false);
  });

  test("Node ESM imports the main API and computes a loss", () => {
    const r = lastJson(sh("node", ["node_main.mjs", tinyCase]));
    expect(Math.abs(r.ranking - r.expected.ranking_loss)).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(r.sorting - r.expected.sorting_loss)).toBeLessThanOrEqual(1e-6);
    expect(r.modelBytes).toBeGreaterThan(1000);
    expect(r.presets).toBeGreaterThanOrEqual(5);
  });

  test("the CLI runs on Node: --version, loss --check, make-data and a one-epoch train", () => {
    const cli = join(app, "node_modules", ".bin", "ranksort");
    expect(sh(cli, ["--version"]).trim()).toMatch(/^ranksort \d+\.\d+\.\d+/);
    expect(sh(cli, ["loss", tinyCase, "--check"], { stdio: ["ignore", "pipe", "pipe"] })).toContain("ranking_loss");
    const check = spawnSync(cli, ["loss", tinyCase, "--check"], { cwd: app, env, encoding: "utf8" });
    expect(check.status).toBe(0);
    expect(check.stderr).toContain("within tolerance");
    sh(cli, ["make-data", "--out", "data", "--images", "10"]);
    const model = join(app, "node_modules", "ranksort", "models", "tiny_fcos_128.onnx");
    sh(cli, ["train", "--model", model, "--preset", "tiny-fcos", "--data", "data", "--out", "run", "--epochs", "1", "--batch", "4"]);
    const metrics = JSON.parse(readFileSync(join(app, "run", "metrics.json"), "utf8"));
    expect(metrics.map((m: { epoch: number }) => m.epoch)).toEqual([0, 1]);
    expect(Number.isFinite(metrics[1].loss)).toBe(true);
  }, 120_000);

  test("a missing optional peer is a one-line error naming the package", () => {
    const r = spawnSync(join(app, "node_modules", ".bin", "ranksort"), ["loss", tinyCase, "--backend", "ort-wasm"], { cwd: app, env, encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("npm install onnxruntime-web");
  });

  test("a consumer's tsc (nodenext, strict, library checks on) type-checks and emits", () => {
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "es2022", strict: true, outDir: "out", types: [] }, files: ["typed.ts"] }));
    sh(bin("tsc"), ["-p", "."]);
    expect(existsSync(join(app, "out", "typed.js"))).toBe(true);
  });

  test("Deno imports it through node_modules and runs the CLI (compiled: Deno strips no types there)", () => {
    const r = lastJson(sh(bin("deno"), ["run", "-A", "deno_main.mjs"]));
    expect(r.host).toBe("deno");
    expect(r.ranking).toBeCloseTo(226 / 693, 6);
    const cli = join(app, "node_modules", "ranksort", "bin", "ranksort.mjs");
    expect(sh(bin("deno"), ["run", "-A", cli, "--version"]).trim()).toMatch(/^ranksort \d/);
    expect(JSON.parse(sh(bin("deno"), ["run", "-A", cli, "loss", tinyCase])).ranking_loss).toBeCloseTo(226 / 693, 9);
  });

  test.skipIf(!chromium)("the main entry bundles for the browser and computes a loss in headless Chromium", async () => {
    // onnxruntime-web is an optional peer this project did not install: a page that uses it installs it.
    sh(bin("bun"), ["build", "browser_page.mjs", "--target", "browser", "--external", "onnxruntime-web", "--outdir", "page"]);
    const page = readFileSync(join(app, "page", "browser_page.js"), "utf8");
    // No node: module is imported (names in strings, fetched at call time through getBuiltinModule, are fine).
    expect(page.match(/(from\s*|import\(\s*|require\(\s*)"node:[a-z_]+"/g) ?? []).toEqual([]);
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) => new URL(req.url).pathname === "/page.js"
        ? new Response(page, { headers: { "content-type": "text/javascript" } })
        : new Response(`<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>`, { headers: { "content-type": "text/html" } }),
    });
    const { chromium: pw } = await import("playwright-core");
    const browser = await pw.launch({ executablePath: chromium, args: ["--headless", "--no-sandbox", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
    try {
      const tab = await browser.newPage();
      await tab.goto(`http://127.0.0.1:${server.port}/`);
      await tab.waitForFunction(() => (window as unknown as { __result?: unknown }).__result !== undefined, undefined, { timeout: 60_000 });
      const r = (await tab.evaluate(() => (window as unknown as { __result: unknown }).__result)) as { ranking: number; modelBytes: number; error?: string };
      expect(r.error).toBeUndefined();
      expect(r.ranking).toBeCloseTo(226 / 693, 6);
      expect(r.modelBytes).toBeGreaterThan(1000);
    } finally {
      await browser.close();
      server.stop(true);
    }
  }, 120_000);
});
