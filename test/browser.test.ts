// The golden cases in headless Chromium (Debian's chromium, driven by playwright-core): the CPU
// kernels, onnxruntime-web's WASM EP (float64 bodies) and its WebGPU EP on SwiftShader (float32
// bodies), and the WGSL kernels on the same device. Skipped, with the reason printed, where chromium is not installed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { goldenDir } from "./support/golden.ts";
import type { MatrixRow } from "./support/golden_matrix.ts";

const root = resolve(import.meta.dir, "..");
const chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
const dir = goldenDir();
if (!chromium) console.log("browser tests skipped: no Debian chromium (apt-get install chromium)");

describe.skipIf(!chromium || !dir)("golden cases in headless Chromium", () => {
  let server: ReturnType<typeof Bun.serve>;
  let page: string;
  const work = mkdtempSync(join(tmpdir(), "ranksort-browser-"));

  beforeAll(() => {
    const built = spawnSync(join(root, "node_modules", ".bin", "bun"), ["build", join(root, "test", "browser", "golden_page.ts"), "--target", "browser", "--external", "onnxruntime-node", "--outdir", work], { encoding: "utf8" });
    if (built.status !== 0) throw new Error(`bundling the page failed: ${built.stderr}`);
    page = readFileSync(join(work, "golden_page.js"), "utf8");
    const ortDist = join(root, "node_modules", "onnxruntime-web", "dist");
    const cases = readdirSync(dir!).filter((f) => /\.json(\.gz)?$/.test(f) && f !== "MANIFEST.json");
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const path = new URL(req.url).pathname;
        if (path === "/") return new Response(`<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>`, { headers: { "content-type": "text/html" } });
        if (path === "/page.js") return new Response(page, { headers: { "content-type": "text/javascript" } });
        if (path === "/cases") return Response.json(cases);
        if (path.startsWith("/case/") && cases.includes(path.slice(6))) return new Response(Bun.file(join(dir!, path.slice(6))));
        if (path.startsWith("/ort/")) {
          const file = join(ortDist, path.slice(5));
          if (file.startsWith(ortDist) && existsSync(file)) {
            const type = file.endsWith(".wasm") ? "application/wasm" : "text/javascript";
            return new Response(Bun.file(file), { headers: { "content-type": type } });
          }
        }
        return new Response("not found", { status: 404 });
      },
    });
  });

  afterAll(() => {
    server?.stop(true);
    rmSync(work, { recursive: true, force: true });
  });

  async function runPage(backends: string): Promise<{ host: string; cases: number; rows: MatrixRow[]; error?: string }> {
    const { chromium: pw } = await import("playwright-core");
    const browser = await pw.launch({
      executablePath: chromium,
      args: ["--headless", "--no-sandbox", "--disable-gpu-sandbox", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--enable-unsafe-webgpu", "--use-angle=swiftshader", "--enable-features=Vulkan"],
    });
    try {
      const tab = await browser.newPage();
      await tab.goto(`http://127.0.0.1:${server.port}/?backends=${backends}`);
      await tab.waitForFunction(() => (window as unknown as { __ranksort?: unknown }).__ranksort !== undefined, undefined, { timeout: 240_000 });
      return (await tab.evaluate(() => (window as unknown as { __ranksort: unknown }).__ranksort)) as never;
    } finally {
      await browser.close();
    }
  }

  test("CPU kernels and the WASM EP", async () => {
    const r = await runPage("cpu,ort-wasm");
    expect(r.error).toBeUndefined();
    expect(r.cases).toBeGreaterThan(30);
    for (const row of r.rows) {
      expect(row.failed).toEqual([]);
      expect(row.cases).toBeGreaterThan(5);
    }
    console.log(r.rows.map((x) => `chromium ${x.backend.padEnd(10)} ${x.loss.padEnd(9)} ${x.cases} cases, max loss err ${x.maxLossError.toExponential(2)}, max grad err/tol ${x.maxGradRatio.toFixed(4)}`).join("\n"));
  }, 300_000);

  test("WebGPU EP and the WGSL kernels (Dawn on SwiftShader)", async () => {
    const r = await runPage("ort-webgpu,webgpu");
    expect(r.error).toBeUndefined();
    const unavailable = r.rows.find((x) => x.failed.some((f) => f.startsWith("unavailable")));
    expect(unavailable?.failed).toBeUndefined();
    for (const row of r.rows) {
      expect(row.failed).toEqual([]);
      expect(row.cases).toBeGreaterThan(5);
    }
    console.log(r.rows.map((x) => `chromium ${x.backend.padEnd(10)} ${x.loss.padEnd(9)} ${x.cases} cases, max loss err ${x.maxLossError.toExponential(2)}, max grad err/tol ${x.maxGradRatio.toFixed(4)}`).join("\n"));
  }, 300_000);
});
