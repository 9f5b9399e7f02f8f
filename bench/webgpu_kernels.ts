// `npm run bench:webgpu`: Rank & Sort loss (forward + backward) three ways, side by side:
//   WGSL kernel   — the WebGPU kernels on GPU-resident buffers (inputs uploaded once; each run is
//                   one submission plus the 80-byte status read that ends it);
//   body (EP)     — the op's float32 function body on onnxruntime-web's WebGPU EP (host in/out);
//   CPU kernel    — the TypeScript kernel on the same inputs.
// The table is labelled with the adapter: on lavapipe or SwiftShader the "GPU" is emulated on the CPU,
// so the WGSL column measures an emulator, not a GPU. bench/webgpu_real_gpu.sh runs this on a
// machine with a real GPU (Vulkan driver), where the numbers mean what they say.
//
//   deno run -A bench/webgpu_kernels.ts [--sizes 1.6e5,1.6e6] [--positives 500,2000] [--regimes early,late] [--no-body]

import { parseArgs } from "node:util";
import process from "node:process";
import { rankSortLoss } from "../kernels/cpu/index.ts";
import { standaloneDevice } from "../kernels/webgpu/gpu_host.ts";
import { dataBuffer, uploadFloats } from "../kernels/webgpu/buffer_io.ts";
import { WebGpuLossKernels } from "../kernels/webgpu/loss_kernels.ts";
import { getBackend } from "../src/backends/index.ts";
import { detectionCase, type Regime } from "../src/cases/synthetic.ts";
import { printTable } from "../src/cli/commands/demo.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    sizes: { type: "string", default: "1.6e5,1.6e6" },
    positives: { type: "string", default: "500,2000" },
    regimes: { type: "string", default: "early,late" },
    runs: { type: "string", default: "5" },
    "no-body": { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);

async function median(fn: () => Promise<unknown> | unknown): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(runs / 2)]!;
}

const device = await standaloneDevice();
const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
const adapterName = [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(" ") || "unknown adapter";
const emulated = /llvmpipe|lavapipe|swiftshader|software|cpu/i.test(adapterName);
const kernels = await WebGpuLossKernels.create(device);
const body = values["no-body"] ? undefined : await getBackend("ort-webgpu").catch(() => undefined);

const rows = [["N", "P", "regime", "WGSL kernel ms", "body (WebGPU EP) ms", "CPU kernel ms", "body/WGSL", "CPU/WGSL"]];
for (const size of values.sizes!.split(",").map(Number)) {
  for (const positives of values.positives!.split(",").map(Number)) {
    for (const regime of values.regimes!.split(",") as Regime[]) {
      const d = detectionCase({ numel: size, positives, regime, seed: 1 });
      const logits = uploadFloats(device, d.logits);
      const targets = uploadFloats(device, d.targets);
      const grad0 = dataBuffer(device, 4 * size);
      const grad1 = dataBuffer(device, 4 * size);
      const wgsl = await median(() => kernels.run("rank-sort", { logits, targets, n: size }, { delta: 0.5, eps: 1e-10 }, { grad0, grad1 }).status());
      const bodyMs = body ? await median(() => body.rankSort(d.logits, d.targets, { delta: 0.5 })) : NaN;
      const cpu = await median(() => rankSortLoss(d.logits, d.targets, { delta: 0.5 }));
      for (const b of [logits, targets, grad0, grad1]) b.destroy();
      rows.push([
        size.toExponential(1),
        String(positives),
        regime,
        wgsl.toFixed(1),
        Number.isNaN(bodyMs) ? "-" : bodyMs.toFixed(1),
        cpu.toFixed(1),
        Number.isNaN(bodyMs) ? "-" : `${(bodyMs / wgsl).toFixed(1)}×`,
        `${(cpu / wgsl).toFixed(2)}×`,
      ]);
    }
  }
}
console.log(`adapter: ${adapterName}${emulated ? "  — CPU-EMULATED GPU: the WGSL column times an emulator, not a GPU" : ""}`);
console.log(`RankSort forward + backward, median of ${runs} runs`);
printTable(rows);
