// Loads libranksort_cuda.so through this runtime's FFI (bun:ffi, Deno.dlopen or koffi) and prints one
// JSON line: the host, version, device count and its message, what the "cuda" backend says, and a
// small aLRP case through the library's CPU entry points (so every argument kind crosses the FFI).
// Usage: <runtime> test/support/cuda_ffi_check.ts   (library: $RANKSORT_CUDA_LIBRARY or build/cuda)
import { getBackend } from "../../src/backends/index.ts";
import { loadCudaLibrary } from "../../src/backends/cuda_library.ts";

const report: Record<string, unknown> = {};
try {
  const lib = await loadCudaLibrary();
  report.host = lib.host;
  report.version = lib.version();
  report.deviceCount = lib.deviceCount();
  report.deviceMessage = lib.lastError();
  const r = lib.alrp("cpu", new Float32Array([2, 1.5, -0.3, 0.1, 0.4]), new Float32Array([1, 0, 1, -1, 0]), new Float32Array([0.3, 0.1]), 1, 1e-5);
  report.cpuCase = { loss: r.loss, grad: Array.from(r.grad), rank: Array.from(r.rank), order: Array.from(r.order), counts: [r.numPositives, r.numRelevantNegatives] };
} catch (e) {
  report.loadError = { name: (e as Error).name, message: (e as Error).message };
}
try {
  const backend = await getBackend("cuda");
  report.backend = backend.description;
} catch (e) {
  report.backendError = { name: (e as Error).name, message: (e as Error).message };
}
console.log(JSON.stringify(report));
