// The WGSL kernels as a kernel backend: com.ranksort nodes run on the GPUDevice that onnxruntime-web's
// WebGPU EP uses, taking its gpu-buffer tensors as they are and returning gpu-buffer tensors
// (Tensor.fromGpuBuffer) that the next session consumes in place. Nothing is read back: a run's
// status words (bad-input errors) are checked when the next node runs, or by `flush()`.
//
// With any other onnxruntime (onnxruntime-node, or host tensors), the same kernels run on a device
// of their own, and inputs/outputs travel through host memory.
//
// Output buffers are pooled per node output and reused: a node's outputs stay valid until that node
// runs again (a train step reads its losses before the next step, so this holds there).

import { hostGpu, NO_ADAPTER, standaloneDevice, WebGpuUnavailableError } from "../../kernels/webgpu/gpu_host.ts";
import { dataBuffer, readBuffers, writeFloats } from "../../kernels/webgpu/buffer_io.ts";
import { type GpuLossOutputs, type LossKind, type PendingRun, WebGpuLossKernels } from "../../kernels/webgpu/loss_kernels.ts";
import type { NodeProto } from "../onnx/proto.ts";
import { OPS, type OpName } from "../ops/domain.ts";
import { type OrtModule, type OrtTensor, RuntimeError } from "./host_tensor.ts";
import type { KernelBackend } from "./kernel_backend.ts";
import { nodeAttributes } from "./loss_kernel_backend.ts";

interface OrtWithWebGpu extends OrtModule {
  env?: { webgpu?: { device?: Promise<GPUDevice> } };
  Tensor: OrtModule["Tensor"] & {
    fromGpuBuffer?(buffer: GPUBuffer, options: { dataType: string; dims: readonly number[] }): OrtTensor;
  };
}

const KIND: Record<string, LossKind> = {
  RankSortLoss: "rank-sort",
  RankSortLossGrad: "rank-sort",
  APLoss: "ap",
  APLossGrad: "ap",
  ALRPLoss: "alrp",
  ALRPLossGrad: "alrp",
};

/** What crossed between host and GPU in this process: tests check that training keeps it at zero. */
export const webGpuTransfers = { gpuInputs: 0, hostInputs: 0, hostOutputs: 0, reusedForward: 0 };

export async function webGpuKernelBackend(): Promise<KernelBackend> {
  return new WebGpuKernelBackend();
}

class WebGpuKernelBackend implements KernelBackend {
  readonly name = "webgpu";
  readonly location = "gpu-buffer" as const;
  private readonly kernels = new Map<GPUDevice, Promise<WebGpuLossKernels>>();
  private readonly pool = new Map<string, GPUBuffer>();
  private pending?: { node: string; run: PendingRun };
  /**
   * Gradients a forward node (RankSortLoss, APLoss, ALRPLoss) left on the GPU in this session run,
   * by loss and inputs: a Grad node on the same input buffers only reweights them. Cleared by flush(),
   * at the end of every session run, so no buffer is trusted across runs.
   */
  private forwardGradients: { key: string; logits: GPUBuffer; targets: GPUBuffer; regression?: GPUBuffer; grad0: GPUBuffer; grad1?: GPUBuffer }[] = [];

  /**
   * Node and Bun: give onnxruntime-web a navigator.gpu (the `webgpu` package) before it loads; on
   * every host, fail here, clearly, when there is no adapter (onnxruntime-web's own error dumps its
   * minified source).
   */
  async prepareHost(): Promise<void> {
    try {
      if (!(await (await hostGpu()).requestAdapter())) throw new WebGpuUnavailableError(NO_ADAPTER);
    } catch (e) {
      if (e instanceof WebGpuUnavailableError) throw new RuntimeError(`webgpu kernels: ${e.message}`);
      throw e;
    }
  }

  private kernelsFor(device: GPUDevice): Promise<WebGpuLossKernels> {
    let k = this.kernels.get(device);
    if (!k) this.kernels.set(device, (k = WebGpuLossKernels.create(device)));
    return k;
  }

  /** End of a session run: throw the error of the last run, if its inputs were bad, and forget reusable gradients. */
  async flush(): Promise<void> {
    this.forwardGradients = [];
    await this.checkPending();
  }

  private async checkPending(): Promise<void> {
    const p = this.pending;
    this.pending = undefined;
    if (!p) return;
    try {
      await p.run.status();
    } catch (e) {
      throw new RuntimeError(`node "${p.node}": ${(e as Error).message}`);
    }
  }

  private buffer(key: string, bytes: number, device: GPUDevice): GPUBuffer {
    let b = this.pool.get(key);
    if (!b || b.size < bytes) {
      b?.destroy();
      b = dataBuffer(device, bytes, key);
      this.pool.set(key, b);
    }
    return b;
  }

  async run(node: NodeProto, inputs: readonly OrtTensor[], ort: OrtModule): Promise<OrtTensor[]> {
    const op = node.opType as OpName;
    const kind = KIND[op];
    if (!kind) throw new RuntimeError(`node "${node.name}": the webgpu kernel backend does not run ${node.opType}`);
    await this.checkPending();
    const o = ort as OrtWithWebGpu;
    const sharedDevice = o.env?.webgpu?.device !== undefined && typeof o.Tensor.fromGpuBuffer === "function";
    const device = sharedDevice ? await o.env!.webgpu!.device! : await standaloneDevice();
    const kernels = await this.kernelsFor(device);
    const sig = OPS[op];
    const attrs = nodeAttributes(node);

    const gpuInput = async (i: number): Promise<{ buffer: GPUBuffer; length: number }> => {
      const t = inputs[i];
      const what = `node "${node.name}" (${op}): input ${sig.inputs[i]} "${node.input[i]}"`;
      if (!t) throw new RuntimeError(`${what} has no value`);
      if (t.type !== "float32") throw new RuntimeError(`${what} must be float32, got ${t.type}`);
      const scalar = sig.inputs[i]!.startsWith("d_");
      const length = t.dims.reduce((a, b) => a * b, 1);
      if (scalar ? length !== 1 : t.dims.length !== 1) throw new RuntimeError(`${what} must be ${scalar ? "a scalar" : "1-D"}, got dims [${t.dims.join(", ")}]`);
      // (onnxruntime-web's gpuBuffer getter throws for tensors elsewhere: ask only where it lives.)
      const onGpu = t.location === "gpu-buffer" ? (t as { gpuBuffer?: GPUBuffer }).gpuBuffer : undefined;
      if (onGpu && sharedDevice) {
        webGpuTransfers.gpuInputs++;
        return { buffer: onGpu, length };
      }
      webGpuTransfers.hostInputs++;
      const data = (t.location === "gpu-buffer" || t.location === "ml-tensor") && t.getData ? await t.getData() : t.data;
      const b = this.buffer(`${node.name}:in${i}`, 4 * length, device);
      writeFloats(device, b, (data as Float32Array).subarray(0, length));
      return { buffer: b, length };
    };

    const logits = await gpuInput(0);
    const targets = await gpuInput(1);
    if (targets.length !== logits.length) {
      throw new RuntimeError(`node "${node.name}" (${op}): logits has ${logits.length} elements but targets has ${targets.length}; they must match element for element`);
    }
    const n = logits.length;
    const regression = kind === "alrp" ? await gpuInput(2) : undefined;
    const p = regression?.length ?? 0;
    const isGrad = op.endsWith("Grad");
    const upstream = isGrad
      ? { d0: (await gpuInput(kind === "alrp" ? 3 : 2)).buffer, d1: kind === "rank-sort" ? (await gpuInput(3)).buffer : undefined }
      : undefined;

    const key = `${kind}:${attrs.delta}:${attrs.eps ?? 0}:${n}`;
    const reusable = isGrad && sharedDevice
      ? this.forwardGradients.find((f) => f.key === key && f.logits === logits.buffer && f.targets === targets.buffer && f.regression === regression?.buffer)
      : undefined;
    const out = (i: number, bytes: number) => this.buffer(`${node.name}:out${i}`, bytes, device);
    if (reusable && upstream) {
      const grad = out(0, 4 * n);
      kernels.reweight(kind, n, reusable, grad, upstream);
      webGpuTransfers.reusedForward++;
      return [o.Tensor.fromGpuBuffer!(grad, { dataType: "float32", dims: [n] })];
    }
    const outputs: GpuLossOutputs = { grad0: isGrad ? out(0, 4 * n) : out(kind === "rank-sort" ? 2 : 1, 4 * n) };
    const shapes: { buffer: GPUBuffer; dataType: string; dims: number[] }[] = [];
    if (isGrad) {
      shapes.push({ buffer: outputs.grad0, dataType: "float32", dims: [n] });
    } else if (kind === "rank-sort") {
      outputs.grad1 = out(3, 4 * n);
      outputs.losses = [out(0, 4), out(1, 4)];
      shapes.push(
        { buffer: outputs.losses[0]!, dataType: "float32", dims: [] },
        { buffer: outputs.losses[1]!, dataType: "float32", dims: [] },
        { buffer: outputs.grad0, dataType: "float32", dims: [n] },
        { buffer: outputs.grad1, dataType: "float32", dims: [n] },
      );
    } else {
      outputs.losses = [out(0, 4)];
      shapes.push({ buffer: outputs.losses[0]!, dataType: "float32", dims: [] }, { buffer: outputs.grad0, dataType: "float32", dims: [n] });
      if (kind === "alrp") {
        outputs.grad1 = out(2, 4 * p);
        outputs.order = out(3, 8 * p);
        shapes.push({ buffer: outputs.grad1, dataType: "float32", dims: [p] }, { buffer: outputs.order, dataType: "int64", dims: [p] });
      }
    }
    const run = kernels.run(
      kind,
      { logits: logits.buffer, targets: targets.buffer, n, regression: regression ? { buffer: regression.buffer, count: p } : undefined },
      { delta: attrs.delta!, eps: attrs.eps ?? 0 },
      outputs,
      upstream,
    );
    this.pending = { node: node.name, run };
    if (sharedDevice) {
      if (!isGrad) this.forwardGradients.push({ key, logits: logits.buffer, targets: targets.buffer, regression: regression?.buffer, grad0: outputs.grad0, grad1: kind === "rank-sort" ? outputs.grad1 : undefined });
      return node.output.map((name, i) => (name ? o.Tensor.fromGpuBuffer!(shapes[i]!.buffer, { dataType: shapes[i]!.dataType, dims: shapes[i]!.dims }) : (undefined as unknown as OrtTensor)));
    }
    // Host tensors for onnxruntime-node (its WebGPU EP cannot take our buffers): check now and read back.
    await this.checkPending();
    return Promise.all(
      node.output.map(async (name, i) => {
        if (!name) return undefined as unknown as OrtTensor;
        const { buffer, dataType, dims } = shapes[i]!;
        const bytes = (dataType === "int64" ? 8 : 4) * dims.reduce((a, b) => a * b, 1);
        const [data] = await readBuffers(device, [{ buffer, bytes }]);
        webGpuTransfers.hostOutputs++;
        return new ort.Tensor(dataType, dataType === "int64" ? new BigInt64Array(data!) : new Float32Array(data!), dims);
      }),
    );
  }
}
