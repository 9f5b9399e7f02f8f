// The seam through which kernel backends run our nodes in kernels mode. A backend states where it
// wants tensors (host memory, or GPU buffers of onnxruntime-web's WebGPU device) and receives and
// returns onnxruntime tensors, so a GPU backend keeps them on the GPU and the runtime never copies
// what it does not have to. Backends register by name; devices are leaves the runtime never imports.

import type { NodeProto } from "../onnx/proto.ts";
import { type OrtModule, type OrtTensor, RuntimeError } from "./host_tensor.ts";

export type TensorLocation = "cpu" | "gpu-buffer";

export interface KernelBackend {
  readonly name: string;
  /** Where this backend takes its inputs and leaves its outputs. */
  readonly location: TensorLocation;
  /** Run one com.ranksort node; inputs and outputs follow the op's signature order. */
  run(node: NodeProto, inputs: readonly OrtTensor[], ort: OrtModule): Promise<OrtTensor[]>;
  /** Set up the host before onnxruntime loads (e.g. give Node/Bun a navigator.gpu). */
  prepareHost?(): Promise<void>;
  /** Wait for queued work and throw the error of any run whose inputs were bad (end of a session run). */
  flush?(): Promise<void>;
}

const registry = new Map<string, () => Promise<KernelBackend>>();

export function registerKernelBackend(name: string, load: () => Promise<KernelBackend>): void {
  registry.set(name, load);
}

export async function getKernelBackend(name: string): Promise<KernelBackend> {
  const load = registry.get(name);
  if (!load) throw new RuntimeError(`unknown kernel backend "${name}"; available: ${[...registry.keys()].join(", ")}`);
  return load();
}

// Every loss backend (the CPU kernels, and any registered later) can serve as a host-memory kernel
// backend through the adapter.
registerKernelBackend("cpu", async () => (await import("./loss_kernel_backend.ts")).lossKernelBackend("cpu"));
// The CUDA kernels (libranksort_cuda.so) through the same host-memory adapter.
registerKernelBackend("cuda", async () => (await import("./loss_kernel_backend.ts")).lossKernelBackend("cuda"));
// The WGSL kernels on onnxruntime-web's own GPUDevice: tensors stay on the GPU between stages.
registerKernelBackend("webgpu", async () => (await import("./webgpu_kernel_backend.ts")).webGpuKernelBackend());
