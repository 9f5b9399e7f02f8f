// A few training steps of the bundled tiny FCOS with RS loss, twice: onnxruntime-node's CPU EP with
// the CPU kernels, then onnxruntime-web's WebGPU EP with the WGSL kernels (forward, RS kernel,
// backward and optimizer all on one GPUDevice). Prints one JSON line: both loss sequences and what
// the WebGPU kernel backend moved between host and GPU.
//   deno run -A test/support/webgpu_train_check.ts <coco-dir> [steps]
import { join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { loadCoco } from "../../src/data/coco.ts";
import { loadAdapter } from "../../src/detect/adapter.ts";
import { makeBatch, planForRawHeads } from "../../src/detect/detector_batches.ts";
import { detectionLoss } from "../../src/detect/detector_loss.ts";
import { readModel } from "../../src/onnx/model_io.ts";
import { webGpuTransfers } from "../../src/runtime/webgpu_kernel_backend.ts";
import type { ExecutionProvider } from "../../src/runtime/session.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { mulberry32 } from "../../src/util/random.ts";

const [dataDir, stepsArg = "3"] = process.argv.slice(2);
if (!dataDir) throw new Error("usage: webgpu_train_check <coco-dir> [steps]");
const root = resolve(fileURLToPath(import.meta.url), "..", "..", "..");
const adapter = loadAdapter("tiny-fcos");
const plan = planForRawHeads(adapter);
const samples = loadCoco(dataDir).samples;
const steps = Number(stepsArg);
const rand = mulberry32(5);
const batches = Array.from({ length: steps }, (_, s) => makeBatch(samples.slice(4 * s, 4 * s + 4), plan, rand, false).feeds);

async function losses(executionProvider: ExecutionProvider, lossKernels: string) {
  const trainer = await Trainer.create(
    { model: readModel(join(root, "models", "tiny_fcos_128.onnx")), optimizer: { kind: "sgd", momentum: 0.9 }, clipGradNorm: 10, loss: detectionLoss(plan, "rs") },
    { executionProvider, lossKernels },
  );
  const out: { loss: number; report: Record<string, number> }[] = [];
  for (const b of batches) out.push({ loss: await trainer.trainStep(b, 0.01), report: { ...trainer.lastReport } });
  return out;
}

const cpu = await losses("cpu", "cpu");
const before = { ...webGpuTransfers };
const t0 = performance.now();
const gpu = await losses("webgpu", "webgpu");
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ cpu, gpu, seconds, transfers: { gpuInputs: webGpuTransfers.gpuInputs - before.gpuInputs, hostInputs: webGpuTransfers.hostInputs - before.hostInputs, hostOutputs: webGpuTransfers.hostOutputs - before.hostOutputs, reusedForward: webGpuTransfers.reusedForward - before.reusedForward } }));
