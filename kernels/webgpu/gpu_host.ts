// Where a WebGPU device comes from on each host, and the shims Node and Bun need.
//
//   Deno, browsers  navigator.gpu (Deno: works on Mesa lavapipe without a GPU).
//   Node, Bun       the optional `webgpu` package (Dawn). Without a GPU, point Vulkan at SwiftShader:
//                   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json.
//
// Shims, installed once on Node/Bun (ENVIRONMENT.md measured both):
//   - queue.writeBuffer rejects views of a SharedArrayBuffer (onnxruntime-web's threaded WASM heap):
//     copy such data into a plain ArrayBuffer first;
//   - requestDevice without requiredLimits gets default limits; onnxruntime-web asks for what it
//     needs, and our kernels want the adapter's storage-buffer limits: fill them from adapter.limits.

export class WebGpuUnavailableError extends Error {
  override name = "WebGpuUnavailableError";
}

type NavigatorWithGpu = { gpu?: GPU };

let installed: Promise<GPU> | undefined;

/** navigator.gpu, installing the `webgpu` package's implementation on Node and Bun. */
export function hostGpu(): Promise<GPU> {
  installed ??= (async () => {
    const nav = (globalThis as { navigator?: NavigatorWithGpu }).navigator;
    if (nav?.gpu) return nav.gpu;
    const g = globalThis as { Deno?: unknown; process?: { versions?: { node?: string } } };
    if (g.Deno || !g.process?.versions?.node) {
      throw new WebGpuUnavailableError("this host has no WebGPU (navigator.gpu); use a browser with WebGPU, Deno, or Node/Bun with the `webgpu` package");
    }
    let dawn: { create(flags: string[]): GPU; globals: Record<string, unknown> };
    try {
      // Imported only here (and by a computed name) so browser bundles never see node:module.
      const nodeModule = "node:module";
      const { createRequire } = (await import(nodeModule)) as typeof import("node:module");
      dawn = createRequire(import.meta.url)("webgpu");
    } catch (e) {
      throw new WebGpuUnavailableError(`WebGPU on Node/Bun needs the optional \`webgpu\` package (npm install webgpu): ${(e as Error).message.split("\n")[0]}`);
    }
    for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    const gpu = dawn.create([]);
    shimGpu(gpu);
    // onnxruntime-web's WebGPU EP looks for navigator.gpu.
    if (nav) Object.defineProperty(nav, "gpu", { value: gpu, configurable: true });
    else Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true });
    return gpu;
  })();
  return installed;
}

function shimGpu(gpu: GPU): void {
  const requestAdapter = gpu.requestAdapter.bind(gpu);
  gpu.requestAdapter = async (options?: GPURequestAdapterOptions) => {
    const adapter = await requestAdapter(options);
    if (!adapter) return adapter;
    const requestDevice = adapter.requestDevice.bind(adapter);
    adapter.requestDevice = async (descriptor?: GPUDeviceDescriptor) => {
      const limits: Record<string, number> = { ...(descriptor?.requiredLimits as Record<string, number> | undefined) };
      for (const name of ["maxStorageBufferBindingSize", "maxBufferSize", "maxStorageBuffersPerShaderStage", "maxComputeWorkgroupsPerDimension"]) {
        const v = (adapter.limits as unknown as Record<string, number>)[name];
        if (v !== undefined && limits[name] === undefined) limits[name] = v;
      }
      const device = await requestDevice({ ...descriptor, requiredLimits: limits });
      const writeBuffer = device.queue.writeBuffer.bind(device.queue);
      device.queue.writeBuffer = (buffer: GPUBuffer, offset: number, data: BufferSource | SharedArrayBuffer, dataOffset?: number, size?: number) => {
        const view = ArrayBuffer.isView(data) ? data : undefined;
        if (view && typeof SharedArrayBuffer !== "undefined" && view.buffer instanceof SharedArrayBuffer) {
          const copy = new Uint8Array(view.byteLength);
          copy.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
          const element = (view as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
          return writeBuffer(buffer, offset, copy, dataOffset === undefined ? undefined : dataOffset * element, size === undefined ? undefined : size * element);
        }
        return writeBuffer(buffer, offset, data as BufferSource, dataOffset, size);
      };
      return device;
    };
    return adapter;
  };
}

export const NO_ADAPTER =
  "WebGPU has no adapter here: without a GPU, install a Vulkan driver (Deno: apt-get install mesa-vulkan-drivers; Node/Bun: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json from apt-get install chromium)";

let ownDevice: Promise<GPUDevice> | undefined;

/** A device of our own (when no onnxruntime-web device is in play), with the adapter's buffer limits. */
export function standaloneDevice(): Promise<GPUDevice> {
  ownDevice ??= (async () => {
    const gpu = await hostGpu();
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new WebGpuUnavailableError(NO_ADAPTER);
    const want = (name: string) => (adapter.limits as unknown as Record<string, number>)[name];
    const device = await adapter.requestDevice({
      requiredLimits: { maxStorageBufferBindingSize: want("maxStorageBufferBindingSize"), maxBufferSize: want("maxBufferSize"), maxStorageBuffersPerShaderStage: 8 },
    });
    device.lost.then((info) => {
      if (info.reason !== "destroyed") ownDevice = undefined;
    });
    return device;
  })();
  ownDevice.catch(() => (ownDevice = undefined));
  return ownDevice;
}
