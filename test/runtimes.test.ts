// The golden cases through every path in every host: the CPU kernels, and the function bodies on
// onnxruntime-node (CPU EP) and onnxruntime-web (WASM EP), in Bun, Deno and Node. Prints one table
// of host × path × loss with the worst errors.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { goldenDir } from "./support/golden.ts";
import type { MatrixRow } from "./support/runtime_check.ts";

const root = resolve(import.meta.dir, "..");
const dir = goldenDir();
const check = join(root, "test", "support", "runtime_check.ts");
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const BACKENDS = "cpu,ort-cpu,ort-cpu-f32,ort-wasm";
/** Mesa's lavapipe Vulkan driver gives Deno a WebGPU adapter without a GPU (apt: mesa-vulkan-drivers). */
/** Chromium's SwiftShader Vulkan driver gives Dawn (onnxruntime-node's WebGPU EP) an adapter without a GPU. */
const swiftshader = ["/usr/lib/chromium/vk_swiftshader_icd.json"].find((f) => existsSync(f));
const lavapipe = ["/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", "/usr/share/vulkan/icd.d/lvp_icd.json"].find((f) => existsSync(f));
const table: { host: string; row: MatrixRow }[] = [];

function parse(stdout: string): { host: string; cases: number; rows: MatrixRow[] } {
  const line = stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
  if (!line) throw new Error(`no result line in output:\n${stdout.slice(-2000)}`);
  return JSON.parse(line);
}

function expectAllPass(result: { host: string; cases: number; rows: MatrixRow[] }, host: string, backends = BACKENDS) {
  expect(result.host).toBe(host);
  expect(result.cases).toBeGreaterThan(30);
  for (const row of result.rows) {
    table.push({ host, row });
    expect(row.failed).toEqual([]);
    expect(row.cases).toBeGreaterThan(5);
  }
  expect(result.rows.map((r) => r.backend)).toEqual(backends.split(",").flatMap((b) => [b, b, b]));
}

describe.skipIf(!dir)("golden cases in every host", () => {
  test("Bun", () => {
    const r = spawnSync(bin("bun"), [check, dir!, BACKENDS], { encoding: "utf8", cwd: root });
    expect(r.status).toBe(0);
    expectAllPass(parse(r.stdout), "bun");
  });

  test("Deno", () => {
    const r = spawnSync(bin("deno"), ["run", "--allow-read", "--allow-env", "--allow-ffi", "--allow-sys", check, dir!, BACKENDS], { encoding: "utf8", cwd: root });
    expect(r.status).toBe(0);
    expectAllPass(parse(r.stdout), "deno");
  });

  if (!lavapipe) console.log("Deno WebGPU (ort-webgpu, webgpu kernels) skipped: no Mesa lavapipe Vulkan driver (apt-get install mesa-vulkan-drivers libvulkan1)");
  test.skipIf(!lavapipe)("Deno on Mesa lavapipe: WebGPU execution provider (float32 bodies) and the WGSL kernels", () => {
    const xdg = mkdtempSync(join(tmpdir(), "ranksort-xdg-"));
    chmodSync(xdg, 0o700);
    try {
      const r = spawnSync(bin("deno"), ["run", "-A", check, dir!, "ort-webgpu,webgpu"], { encoding: "utf8", cwd: root, env: { ...process.env, XDG_RUNTIME_DIR: xdg, NO_COLOR: "1" } });
      expect(r.status).toBe(0);
      expectAllPass(parse(r.stdout), "deno", "ort-webgpu,webgpu");
    } finally {
      rmSync(xdg, { recursive: true, force: true });
    }
  });

  if (!swiftshader) console.log("onnxruntime-node WebGPU EP and the WGSL kernels on Node/Bun skipped: no SwiftShader Vulkan driver (apt-get install chromium)");
  for (const host of ["bun", "node"] as const) {
    test.skipIf(!swiftshader)(`${host === "bun" ? "Bun" : "Node"}, onnxruntime-node's WebGPU EP on SwiftShader (float32 bodies), and the WGSL kernels on the webgpu package`, () => {
      const xdg = mkdtempSync(join(tmpdir(), "ranksort-xdg-"));
      chmodSync(xdg, 0o700);
      const env = { ...process.env, VK_ICD_FILENAMES: swiftshader!, XDG_RUNTIME_DIR: xdg };
      const out = join(root, "node_modules", ".ranksort-test");
      mkdirSync(out, { recursive: true });
      const bundle = join(out, `check-gpu-${process.pid}.mjs`);
      try {
        let r;
        if (host === "bun") r = spawnSync(bin("bun"), [check, dir!, "ort-node-webgpu,webgpu"], { encoding: "utf8", cwd: root, env });
        else {
          const b = spawnSync(bin("bun"), ["build", check, "--target", "node", "--external", "onnxruntime-node", "--external", "onnxruntime-web", "--external", "webgpu", "--outfile", bundle], { encoding: "utf8" });
          expect(b.status).toBe(0);
          r = spawnSync("node", [bundle, dir!, "ort-node-webgpu,webgpu"], { encoding: "utf8", cwd: root, env });
        }
        expect(r.status).toBe(0);
        expectAllPass(parse(r.stdout), host, "ort-node-webgpu,webgpu");
      } finally {
        rmSync(xdg, { recursive: true, force: true });
        rmSync(bundle, { force: true });
      }
    });
  }

  test("Node (sources bundled by bun build; onnxruntime packages resolved from node_modules)", () => {
    const out = join(root, "node_modules", ".ranksort-test");
    mkdirSync(out, { recursive: true });
    const bundle = join(out, `check-${process.pid}.mjs`);
    try {
      const b = spawnSync(bin("bun"), ["build", check, "--target", "node", "--external", "onnxruntime-node", "--external", "onnxruntime-web", "--outfile", bundle], { encoding: "utf8" });
      expect(b.status).toBe(0);
      const r = spawnSync("node", [bundle, dir!, BACKENDS], { encoding: "utf8", cwd: root });
      expect(r.status).toBe(0);
      expectAllPass(parse(r.stdout), "node");
    } finally {
      rmSync(bundle, { force: true });
    }
  });

  afterAll(() => {
    if (!table.length) return;
    const lines = ["host  path             loss       cases  max loss err  max grad err/tol  failed"];
    for (const { host, row } of table) {
      lines.push(
        `${host.padEnd(5)} ${row.backend.padEnd(16)} ${row.loss.padEnd(10)} ${String(row.cases).padStart(5)}  ${row.maxLossError.toExponential(2).padStart(12)}  ${row.maxGradRatio.toFixed(4).padStart(16)}  ${row.failed.length}`,
      );
    }
    console.log(`\ncross-runtime golden matrix (tolerance: loss 1e-6, grad err/tol 1):\n${lines.join("\n")}`);
  });
});
