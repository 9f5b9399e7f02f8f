// A tiny-FCOS train step (the demo's detector, RS loss, batch 4, SGD with momentum) on each
// execution provider this host has: onnxruntime-node CPU (function bodies inline, and the CPU
// kernels), onnxruntime-web WASM, and — where the runtime has navigator.gpu (Deno on a Vulkan driver,
// a browser) — onnxruntime-web's WebGPU EP with the WGSL kernels. Median of the timed steps after
// two warm-up steps; prints a table.
//
//   bun bench/train_step_eps.ts [steps]            # CPU and WASM
//   deno run -A bench/train_step_eps.ts [steps]    # the same, plus WebGPU (lavapipe: CPU-emulated)

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { loadCoco } from "../src/data/coco.ts";
import { loadAdapter } from "../src/detect/adapter.ts";
import { makeBatch, planForRawHeads } from "../src/detect/detector_batches.ts";
import { detectionLoss } from "../src/detect/detector_loss.ts";
import { readModel } from "../src/onnx/model_io.ts";
import type { ExecutionProvider } from "../src/runtime/session.ts";
import { Trainer } from "../src/train/trainer.ts";
import { mulberry32 } from "../src/util/random.ts";
import { printTable } from "../src/cli/commands/demo.ts";

const steps = Number(process.argv[2] ?? 5);
const root = resolve(fileURLToPath(import.meta.url), "..", "..");
const dataDir = mkdtempSync(join(tmpdir(), "ranksort-eps-bench-"));
try {
  const made = spawnSync(join(root, "node_modules", ".bin", "bun"), [join(root, "bin", "ranksort.mjs"), "make-data", "--out", dataDir, "--images", "16"], { cwd: root, encoding: "utf8" });
  if (made.status !== 0) throw new Error(`make-data failed: ${made.stderr}`);
  const adapter = loadAdapter("tiny-fcos");
  const plan = planForRawHeads(adapter);
  const samples = loadCoco(dataDir).samples;
  const rand = mulberry32(5);
  const batches = Array.from({ length: 4 }, (_, s) => makeBatch(samples.slice(4 * s, 4 * s + 4), plan, rand, false).feeds);

  const configs: [string, ExecutionProvider, string][] = [
    ["cpu (onnxruntime-node), bodies inline", "cpu", "body"],
    ["cpu (onnxruntime-node), CPU kernels", "cpu", "cpu"],
    ["wasm (onnxruntime-web), CPU kernels", "wasm", "cpu"],
  ];
  if ((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) configs.push(["webgpu (onnxruntime-web), WGSL kernels", "webgpu", "webgpu"]);
  const rows = [["execution provider", "first step s", "step ms (median)", "img/s"]];
  for (const [label, executionProvider, lossKernels] of configs) {
    const t0 = performance.now();
    const trainer = await Trainer.create(
      { model: readModel(join(root, "models", "tiny_fcos_128.onnx")), optimizer: { kind: "sgd", momentum: 0.9 }, clipGradNorm: 10, loss: detectionLoss(plan, "rs") },
      { executionProvider, lossKernels },
    );
    await trainer.trainStep(batches[0]!, 0.01);
    const first = (performance.now() - t0) / 1000;
    await trainer.trainStep(batches[1]!, 0.01);
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const s = performance.now();
      await trainer.trainStep(batches[i % batches.length]!, 0.01);
      times.push(performance.now() - s);
    }
    const ms = times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
    rows.push([label, first.toFixed(1), ms.toFixed(0), (4000 / ms).toFixed(1)]);
    console.log(rows.at(-1)!.join("  "));
  }
  console.log(`\ntiny-FCOS 128², batch 4, RS loss, SGD momentum 0.9; ${(globalThis as { Deno?: unknown }).Deno ? "Deno" : (globalThis as { Bun?: unknown }).Bun ? "Bun" : "Node"}`);
  printTable(rows);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
