// The tiny MLP overfits on the WebGPU EP too: onnxruntime-web in Deno on Mesa lavapipe, and
// onnxruntime-node's Dawn EP in Bun on SwiftShader. Skipped with the reason where the drivers are missing.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..", "..");
const script = join(root, "test", "support", "train_check.ts");
const lavapipe = existsSync("/usr/share/vulkan/icd.d/lvp_icd.x86_64.json");
const swiftshader = "/usr/lib/chromium/vk_swiftshader_icd.json";
if (!lavapipe) console.log("WebGPU training in Deno skipped: no Mesa lavapipe (apt-get install mesa-vulkan-drivers)");
if (!existsSync(swiftshader)) console.log("WebGPU training in Bun skipped: no SwiftShader (apt-get install chromium)");

function run(command: string[], env: Record<string, string>) {
  const xdg = mkdtempSync(join(tmpdir(), "ranksort-xdg-"));
  chmodSync(xdg, 0o700);
  try {
    const r = spawnSync(command[0]!, command.slice(1), { encoding: "utf8", cwd: root, env: { ...process.env, XDG_RUNTIME_DIR: xdg, NO_COLOR: "1", ...env } });
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1)!) as { first: number; last: number };
  } finally {
    rmSync(xdg, { recursive: true, force: true });
  }
}

interface TrainCheck {
  cpu: { loss: number }[];
  gpu: { loss: number }[];
  seconds: number;
  transfers: { gpuInputs: number; hostInputs: number; hostOutputs: number; reusedForward: number };
}

/** Synthetic images for the end-to-end checks, made once. */
let dataDir: string | undefined;
function syntheticData(): string {
  if (dataDir) return dataDir;
  dataDir = mkdtempSync(join(tmpdir(), "ranksort-gpu-data-"));
  const made = spawnSync(join(root, "node_modules", ".bin", "bun"), [join(root, "bin", "ranksort.mjs"), "make-data", "--out", dataDir, "--images", "12"], { cwd: root, encoding: "utf8" });
  expect(made.status).toBe(0);
  return dataDir;
}

function runTrainCheck(command: string[], env: Record<string, string>): TrainCheck {
  const xdg = mkdtempSync(join(tmpdir(), "ranksort-xdg-"));
  chmodSync(xdg, 0o700);
  try {
    const r = spawnSync(command[0]!, command.slice(1), { encoding: "utf8", cwd: root, env: { ...process.env, XDG_RUNTIME_DIR: xdg, NO_COLOR: "1", ...env } });
    if (r.status !== 0) throw new Error(`train check failed (${r.status}):\n${r.stderr.slice(-3000)}`);
    return JSON.parse(r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1)!);
  } finally {
    rmSync(xdg, { recursive: true, force: true });
  }
}

/** Per-step losses of the all-GPU step equal the CPU path's, and nothing went through the host. */
function expectGpuStepMatchesCpu(r: TrainCheck, steps: number) {
  expect(r.gpu.length).toBe(steps);
  r.gpu.forEach((g, i) => {
    const c = r.cpu[i]!.loss;
    expect(Math.abs(g.loss - c)).toBeLessThanOrEqual(1e-6 + 1e-4 * Math.abs(c));
  });
  // RankSortLoss and RankSortLossGrad each take logits and targets straight from the GPU, every step.
  expect(r.transfers.gpuInputs).toBeGreaterThanOrEqual(4 * steps);
  expect(r.transfers.hostInputs).toBe(0);
  expect(r.transfers.hostOutputs).toBe(0);
  // RankSortLossGrad reweights the gradients RankSortLoss left on the GPU instead of recomputing them.
  expect(r.transfers.reusedForward).toBe(steps);
  console.log(`WebGPU train step (EP + WGSL kernels) vs CPU: losses ${r.gpu.map((g, i) => `${g.loss.toFixed(6)}/${r.cpu[i]!.loss.toFixed(6)}`).join(", ")}; ${r.transfers.gpuInputs} GPU-resident kernel inputs, 0 host transfers`);
}

const trainCheck = join(root, "test", "support", "webgpu_train_check.ts");

describe("a full detector training step on WebGPU: forward (EP), RS kernel (WGSL), backward and optimizer (EP)", () => {
  test.skipIf(!lavapipe)("Deno on lavapipe: 3 steps equal the CPU path, no host round trip", () => {
    const r = runTrainCheck([join(root, "node_modules", ".bin", "deno"), "run", "-A", trainCheck, syntheticData(), "3"], {});
    expectGpuStepMatchesCpu(r, 3);
  }, 300_000);
  test.skipIf(!existsSync(swiftshader))("Bun on SwiftShader (onnxruntime-web on the webgpu package): 2 steps equal the CPU path", () => {
    const r = runTrainCheck([join(root, "node_modules", ".bin", "bun"), trainCheck, syntheticData(), "2"], { VK_ICD_FILENAMES: swiftshader });
    expectGpuStepMatchesCpu(r, 2);
  }, 300_000);
  test.skipIf(!existsSync(swiftshader))("Node on SwiftShader (sources bundled; onnxruntime-web on the webgpu package): 2 steps equal the CPU path", () => {
    const out = join(root, "node_modules", ".ranksort-test");
    mkdirSync(out, { recursive: true });
    const bundle = join(out, `train-check-${process.pid}.mjs`);
    try {
      const externals = ["onnxruntime-node", "onnxruntime-web", "webgpu", "koffi"].flatMap((e) => ["--external", e]);
      const b = spawnSync(join(root, "node_modules", ".bin", "bun"), ["build", trainCheck, "--target", "node", ...externals, "--outfile", bundle], { encoding: "utf8" });
      expect(b.status).toBe(0);
      // --liftoff-only: Node 20 otherwise spends ~2 min optimising onnxruntime-web's WASM on first use.
      const r = runTrainCheck(["node", "--liftoff-only", bundle, syntheticData(), "2"], { VK_ICD_FILENAMES: swiftshader });
      expectGpuStepMatchesCpu(r, 2);
    } finally {
      rmSync(bundle, { force: true });
    }
  }, 300_000);
  test("no WebGPU adapter (Vulkan pointed at nothing): `train --backend webgpu` says so in one line", () => {
    const r = spawnSync(join(root, "node_modules", ".bin", "bun"), [join(root, "bin", "ranksort.mjs"), "train", "--model", join(root, "models", "tiny_fcos_128.onnx"), "--preset", "tiny-fcos", "--data", syntheticData(), "--out", join(syntheticData(), "run-no-gpu"), "--epochs", "1", "--backend", "webgpu"], { cwd: root, encoding: "utf8", env: { ...process.env, VK_ICD_FILENAMES: "/nonexistent/icd.json", VK_DRIVER_FILES: "/nonexistent/icd.json" } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("ranksort train: webgpu kernels: WebGPU has no adapter here");
    expect(r.stderr).not.toContain("ONNX Runtime Web v"); // no minified source dump
  }, 120_000);
  afterAll(() => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
});

describe("training on the WebGPU execution provider", () => {
  test.skipIf(!lavapipe)("Deno, onnxruntime-web WebGPU EP on lavapipe", () => {
    const r = run([join(root, "node_modules", ".bin", "deno"), "run", "-A", script, "webgpu"], {});
    expect(r.last).toBeLessThan(0.02 * r.first);
  }, 300_000);
  test.skipIf(!lavapipe)("Deno: ranksort train fine-tunes the bundled detector on the WebGPU EP (float32 bodies)", () => {
    const dir = mkdtempSync(join(tmpdir(), "ranksort-gpu-train-"));
    try {
      const deno = join(root, "node_modules", ".bin", "deno");
      const cli = join(root, "bin", "ranksort.mjs");
      const xdg = mkdtempSync(join(tmpdir(), "ranksort-xdg-"));
      chmodSync(xdg, 0o700);
      const env = { ...process.env, XDG_RUNTIME_DIR: xdg, NO_COLOR: "1" };
      expect(spawnSync(deno, ["run", "-A", cli, "make-data", "--out", join(dir, "data"), "--images", "20"], { cwd: root, env }).status).toBe(0);
      const r = spawnSync(deno, ["run", "-A", cli, "train", "--model", join(root, "models", "tiny_fcos_128.onnx"), "--preset", "tiny-fcos", "--data", join(dir, "data"), "--out", join(dir, "run"), "--epochs", "1", "--backend", "webgpu"], { cwd: root, env, encoding: "utf8" });
      expect(r.status).toBe(0);
      const metrics = JSON.parse(readFileSync(join(dir, "run", "metrics.json"), "utf8"));
      expect(metrics.map((m: { epoch: number }) => m.epoch)).toEqual([0, 1]);
      expect(Number.isFinite(metrics[1].loss)).toBe(true);
      rmSync(xdg, { recursive: true, force: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
  test.skipIf(!existsSync(swiftshader))("Bun, onnxruntime-node WebGPU EP on SwiftShader", () => {
    const r = run([join(root, "node_modules", ".bin", "bun"), script, "webgpu"], { VK_ICD_FILENAMES: swiftshader });
    expect(r.last).toBeLessThan(0.02 * r.first);
  }, 300_000);
});
