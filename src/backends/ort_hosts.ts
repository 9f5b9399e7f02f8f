// onnxruntime hosts for the function-body backends: onnxruntime-node (CPU EP) and onnxruntime-web
// (WASM EP; WebGPU EP where the host has navigator.gpu).

import { BackendUnavailableError } from "./loss_backend.ts";
import { type OrtLike, OrtLossBackend } from "./ort_loss.ts";
import { missingPeer } from "../runtime/peer_packages.ts";

export async function ortCpuBackend(): Promise<OrtLossBackend> {
  const ort = (await import("onnxruntime-node").catch(missingPeer("onnxruntime-node", "loss backend ort-cpu"))) as unknown as OrtLike;
  return new OrtLossBackend("ort-cpu", "function bodies on onnxruntime-node, CPU execution provider", ort, { executionProviders: ["cpu"] });
}

/** The float32 bodies on onnxruntime-node's CPU EP: how they are tested where no GPU is. */
export async function ortCpuFloat32Backend(): Promise<OrtLossBackend> {
  const ort = (await import("onnxruntime-node").catch(missingPeer("onnxruntime-node", "loss backend ort-cpu-f32"))) as unknown as OrtLike;
  return new OrtLossBackend("ort-cpu-f32", "float32 function bodies on onnxruntime-node, CPU execution provider", ort, { executionProviders: ["cpu"] }, "float32");
}

/**
 * onnxruntime-node's bundled WebGPU EP (Dawn; without a GPU it needs a Vulkan driver such as
 * SwiftShader: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json). float32 bodies.
 */
export async function ortNodeWebGpuBackend(): Promise<OrtLossBackend> {
  const ort = (await import("onnxruntime-node").catch(missingPeer("onnxruntime-node", "loss backend ort-node-webgpu"))) as unknown as OrtLike & { listSupportedBackends(): { name: string }[] };
  if (!ort.listSupportedBackends().some((b) => b.name === "webgpu")) {
    throw new BackendUnavailableError("this onnxruntime-node build has no WebGPU execution provider");
  }
  return new OrtLossBackend("ort-node-webgpu", "float32 function bodies on onnxruntime-node, WebGPU execution provider (Dawn)", ort, { executionProviders: ["webgpu"] }, "float32");
}

export async function ortWasmBackend(): Promise<OrtLossBackend> {
  const ort = (await import("onnxruntime-web").catch(missingPeer("onnxruntime-web", "loss backend ort-wasm"))) as unknown as OrtLike & { env: { wasm: { numThreads: number } } };
  return new OrtLossBackend("ort-wasm", "function bodies on onnxruntime-web, WASM execution provider", ort, { executionProviders: ["wasm"] });
}

export async function ortWebGpuBackend(): Promise<OrtLossBackend> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
  if (!gpu || !(await gpu.requestAdapter())) {
    throw new BackendUnavailableError(
      "ort-webgpu needs WebGPU (navigator.gpu with an adapter): use Deno (Mesa lavapipe works without a GPU) or a browser",
    );
  }
  const ort = (await import("onnxruntime-web/webgpu").catch(missingPeer("onnxruntime-web", "loss backend ort-webgpu"))) as unknown as OrtLike;
  // onnxruntime-web's WebGPU build has no float64 kernels: it runs the float32 bodies.
  return new OrtLossBackend("ort-webgpu", "float32 function bodies on onnxruntime-web, WebGPU execution provider", ort, { executionProviders: ["webgpu"] }, "float32");
}
