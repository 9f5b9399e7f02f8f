// Every built-in backend, registered once. Devices are leaves: the registry never imports them eagerly.
import { registerBackend } from "./loss_backend.ts";

registerBackend("cpu", async () => (await import("./cpu.ts")).cpuBackend);
registerBackend("ort-cpu", async () => (await import("./ort_hosts.ts")).ortCpuBackend());
registerBackend("ort-cpu-f32", async () => (await import("./ort_hosts.ts")).ortCpuFloat32Backend());
registerBackend("ort-wasm", async () => (await import("./ort_hosts.ts")).ortWasmBackend());
registerBackend("ort-node-webgpu", async () => (await import("./ort_hosts.ts")).ortNodeWebGpuBackend());
registerBackend("ort-webgpu", async () => (await import("./ort_hosts.ts")).ortWebGpuBackend());
registerBackend("cuda", async () => (await import("./cuda.ts")).cudaBackend());
registerBackend("webgpu", async () => (await import("./webgpu.ts")).webGpuBackend());

export { backendNames, BackendUnavailableError, getBackend, registerBackend, type LossBackend } from "./loss_backend.ts";
