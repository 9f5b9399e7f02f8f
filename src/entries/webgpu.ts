/**
 * `ranksort/webgpu`: the RankSort, AP and aLRP kernels in WGSL on any WebGPU device (a page's
 * `navigator.gpu`, Deno's, or the optional `webgpu` package on Node and Bun), and the loss backend
 * and kernel backend that run them. Types need `@webgpu/types` in the consumer's compilation.
 *
 * @packageDocumentation
 */
export { WebGpuKernelError, WebGpuLossKernels, PendingRun, type GpuLossInputs, type GpuLossOutputs, type GpuUpstream, type KernelOptions, type LossKind, type LossSettings, type RunStatus } from "../../kernels/webgpu/loss_kernels.ts";
export { hostGpu, standaloneDevice, WebGpuUnavailableError } from "../../kernels/webgpu/gpu_host.ts";
export { webGpuBackend } from "../backends/webgpu.ts";
export { webGpuKernelBackend } from "../runtime/webgpu_kernel_backend.ts";
