// The CUDA kernels (libranksort_cuda.so) as a loss backend: host arrays are copied to the GPU, the
// loss runs there, and the results come back. Unavailable (BackendUnavailableError, never a crash)
// when the library is not built or the machine has no usable GPU.
import type { ALRPLossResult, APLossResult, RankSortResult } from "../../kernels/cpu/index.ts";
import { loadCudaLibrary } from "./cuda_library.ts";
import { BackendUnavailableError, type LossBackend } from "./loss_backend.ts";

export async function cudaBackend(): Promise<LossBackend> {
  const lib = await loadCudaLibrary();
  if (lib.deviceCount() <= 0) {
    throw new BackendUnavailableError(`cuda: ${lib.lastError() || "no CUDA device"} (library ${lib.path} loaded under ${lib.host})`);
  }
  return {
    name: "cuda",
    description: `CUDA kernels (${lib.version()}), float64 accumulation, via ${lib.host} FFI`,
    rankSort: async (logits, targets, opts): Promise<RankSortResult> =>
      lib.rankSort("host", logits, targets, opts.delta ?? 0.5, opts.eps ?? 1e-10),
    ap: async (logits, targets, opts): Promise<APLossResult> => lib.ap("host", logits, targets, opts.delta ?? 1),
    alrp: async (logits, targets, reg, opts): Promise<ALRPLossResult> =>
      lib.alrp("host", logits, targets, reg, opts.delta ?? 1, opts.eps ?? 1e-5),
  };
}
