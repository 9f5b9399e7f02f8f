// The WGSL kernels as a loss backend over host arrays: upload, run, read back. This is what
// `ranksort loss --backend webgpu` and the golden matrix use; GPU-resident use (tensors that stay on
// the GPU between onnxruntime sessions) goes through the kernel backend in src/runtime.

import type { ALRPLossResult, APLossResult, RankSortResult } from "../../kernels/cpu/index.ts";
import { RankSortInputError } from "../../kernels/cpu/inputs.ts";
import { standaloneDevice, WebGpuUnavailableError } from "../../kernels/webgpu/gpu_host.ts";
import { dataBuffer, readBuffers, uploadFloats } from "../../kernels/webgpu/buffer_io.ts";
import { type LossKind, WebGpuKernelError, WebGpuLossKernels } from "../../kernels/webgpu/loss_kernels.ts";
import { BackendUnavailableError, type LossBackend } from "./loss_backend.ts";

export async function webGpuBackend(): Promise<LossBackend> {
  let device: GPUDevice;
  try {
    device = await standaloneDevice();
  } catch (e) {
    if (e instanceof WebGpuUnavailableError) throw new BackendUnavailableError(`webgpu: ${e.message}`);
    throw e;
  }
  const kernels = await WebGpuLossKernels.create(device);
  return new WebGpuHostBackend(device, kernels);
}

class WebGpuHostBackend implements LossBackend {
  readonly name = "webgpu";
  readonly description = "WGSL kernels on a WebGPU device (float32, compensated and fixed-point sums)";
  constructor(
    private readonly device: GPUDevice,
    private readonly kernels: WebGpuLossKernels,
  ) {}

  private async run(kind: LossKind, logits: Float32Array, targets: Float32Array, regression: Float32Array | undefined, settings: { delta: number; eps: number }) {
    const name = kind === "rank-sort" ? "RankSortLoss" : kind === "ap" ? "APLoss" : "ALRPLoss";
    if (logits.length === 0) throw new RankSortInputError(`${name}: logits is empty (expected at least one element)`);
    if (targets.length !== logits.length) {
      throw new RankSortInputError(`${name}: logits has ${logits.length} elements but targets has ${targets.length}; they must match element for element`);
    }
    const n = logits.length;
    const owned = [uploadFloats(this.device, logits, "logits"), uploadFloats(this.device, targets, "targets")];
    const grad0 = dataBuffer(this.device, 4 * n, "grad0");
    const p = regression?.length ?? 0;
    const grad1 = kind === "rank-sort" ? dataBuffer(this.device, 4 * n, "grad1") : kind === "alrp" ? dataBuffer(this.device, 4 * p, "rank") : undefined;
    const order = kind === "alrp" ? dataBuffer(this.device, 8 * p, "order") : undefined;
    const reg = regression ? uploadFloats(this.device, regression, "regression_losses") : undefined;
    try {
      const pending = this.kernels.run(
        kind,
        { logits: owned[0]!, targets: owned[1]!, n, regression: reg ? { buffer: reg, count: p } : undefined },
        settings,
        { grad0, grad1, order },
      );
      const status = await pending.status().catch((e: unknown) => {
        // Bad input names the tensor and index, with its value, as the CPU kernels do.
        if (e instanceof WebGpuKernelError) throw new RankSortInputError(withValues(e.message, logits, targets, regression));
        throw e;
      });
      const want = [{ buffer: grad0, bytes: 4 * n }];
      if (grad1) want.push({ buffer: grad1, bytes: kind === "rank-sort" ? 4 * n : 4 * p });
      if (order) want.push({ buffer: order, bytes: 8 * p });
      const data = await readBuffers(this.device, want);
      return { status, data };
    } finally {
      for (const b of [...owned, grad0, grad1, order, reg]) b?.destroy();
    }
  }

  async rankSort(logits: Float32Array, targets: Float32Array, opts: { delta?: number; eps?: number }): Promise<RankSortResult> {
    const { status, data } = await this.run("rank-sort", logits, targets, undefined, { delta: opts.delta ?? 0.5, eps: opts.eps ?? 1e-10 });
    const gradRanking = new Float32Array(data[0]!);
    const gradSorting = new Float32Array(data[1]!);
    return {
      rankingLoss: status.losses[0]!,
      sortingLoss: status.losses[1]!,
      gradRanking,
      gradSorting,
      grad: gradRanking.map((g, i) => g + gradSorting[i]!),
      numPositives: status.numPositives,
      numRelevantNegatives: status.numRelevantNegatives,
    };
  }

  async ap(logits: Float32Array, targets: Float32Array, opts: { delta?: number }): Promise<APLossResult> {
    const { status, data } = await this.run("ap", logits, targets, undefined, { delta: opts.delta ?? 1, eps: 0 });
    return { loss: status.losses[0]!, grad: new Float32Array(data[0]!), numPositives: status.numPositives, numRelevantNegatives: status.numRelevantNegatives };
  }

  async alrp(logits: Float32Array, targets: Float32Array, regressionLosses: Float32Array, opts: { delta?: number; eps?: number }): Promise<ALRPLossResult> {
    const { status, data } = await this.run("alrp", logits, targets, regressionLosses, { delta: opts.delta ?? 1, eps: opts.eps ?? 1e-5 });
    return {
      loss: status.losses[0]!,
      grad: new Float32Array(data[0]!),
      rank: new Float32Array(data[1]!),
      order: Int32Array.from(new BigInt64Array(data[2]!), Number),
      numPositives: status.numPositives,
      numRelevantNegatives: status.numRelevantNegatives,
    };
  }
}

/** Add the offending value to a kernel error message ("logits[7] is not finite" → "logits[7] = NaN …"). */
function withValues(message: string, logits: Float32Array, targets: Float32Array, regression?: Float32Array): string {
  return message.replace(/\b(logits|targets|regression_losses)\[(\d+)\] is(?! NaN)/, (_, tensor: string, index: string) => {
    const source = tensor === "logits" ? logits : tensor === "targets" ? targets : regression;
    return `${tensor}[${index}] = ${source?.[Number(index)]} is`;
  });
}
