// Finding and loading libranksort_cuda.so in Bun, Deno or Node, and calling its host-pointer (GPU)
// and CPU entry points with typed arrays. Failures to find or open the library, or a machine
// without a usable GPU, become BackendUnavailableError; bad inputs become RankSortInputError.

// No static node:* imports: browser bundles reach this module through the backend registry's lazy
// imports and must still build (the backend is then unavailable, never loaded).
import type { ALRPLossResult, APLossResult, RankSortResult } from "../../kernels/cpu/index.ts";
import { RankSortInputError } from "../../kernels/cpu/inputs.ts";
import { type BoundSymbols, CUDA_ABI, STATUS } from "./cuda_abi.ts";
import { BackendUnavailableError } from "./loss_backend.ts";
import { packagePath } from "../util/package_root.ts";

/** $RANKSORT_CUDA_LIBRARY, else build/cuda/libranksort_cuda.so in the package root. */
export function cudaLibraryPath(): string {
  const fromEnv = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.RANKSORT_CUDA_LIBRARY;
  if (fromEnv) return fromEnv;
  return packagePath("build/cuda/libranksort_cuda.so");
}

export type FfiHost = "bun" | "deno" | "node";

export function currentHost(): FfiHost {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  return g.Bun ? "bun" : g.Deno ? "deno" : "node";
}

/** Which entry points run a loss: "host" = the GPU (copy in, run, copy out), "cpu" = the C++ port. */
export type Where = "host" | "cpu";

// The library returns exactly what the CPU kernels return.
export type RankSortOutputs = RankSortResult;
export type APOutputs = APLossResult;
export type ALRPOutputs = ALRPLossResult;

export class CudaLibrary {
  constructor(
    readonly path: string,
    readonly host: FfiHost,
    private readonly symbols: BoundSymbols,
  ) {}

  version(): string {
    return String(this.symbols.ranksort_cuda_version!());
  }

  /** Usable CUDA devices; 0 without a GPU or driver (then lastError() says why). */
  deviceCount(): number {
    return Number(this.symbols.ranksort_cuda_device_count!());
  }

  lastError(): string {
    return String(this.symbols.ranksort_last_error_message!());
  }

  rankSort(where: Where, logits: Float32Array, targets: Float32Array, delta: number, eps: number): RankSortOutputs {
    const n = checkLengths("RankSortLoss", logits, targets);
    const gradRanking = new Float32Array(n);
    const gradSorting = new Float32Array(n);
    const grad = new Float32Array(n);
    const losses = new Float32Array(2);
    const counts = new BigInt64Array(2);
    this.check(this.call(`ranksort_rank_sort_${where}`, logits, targets, n, delta, eps, gradRanking, gradSorting, grad, losses, counts));
    return { rankingLoss: losses[0]!, sortingLoss: losses[1]!, gradRanking, gradSorting, grad, ...countsOf(counts) };
  }

  ap(where: Where, logits: Float32Array, targets: Float32Array, delta: number): APOutputs {
    const n = checkLengths("APLoss", logits, targets);
    const grad = new Float32Array(n);
    const loss = new Float32Array(1);
    const counts = new BigInt64Array(2);
    this.check(this.call(`ranksort_ap_${where}`, logits, targets, n, delta, grad, loss, counts));
    return { loss: loss[0]!, grad, ...countsOf(counts) };
  }

  alrp(where: Where, logits: Float32Array, targets: Float32Array, regressionLosses: Float32Array, delta: number, eps: number): ALRPOutputs {
    const n = checkLengths("ALRPLoss", logits, targets);
    const m = regressionLosses.length;
    // Never hand a zero-length array to an FFI (some give a null or dangling pointer for it).
    const reg = m > 0 ? regressionLosses : new Float32Array(1);
    const grad = new Float32Array(n);
    const loss = new Float32Array(1);
    const rank = new Float32Array(Math.max(m, 1));
    const order = new BigInt64Array(Math.max(m, 1));
    const counts = new BigInt64Array(2);
    this.check(this.call(`ranksort_alrp_${where}`, logits, targets, n, reg, m, delta, eps, grad, loss, rank, order, counts));
    return { loss: loss[0]!, grad, rank: rank.slice(0, m), order: Int32Array.from(order.subarray(0, m), Number), ...countsOf(counts) };
  }

  private call(name: string, ...args: (number | ArrayBufferView)[]): number {
    return Number(this.symbols[name]!(...args));
  }

  private check(status: number): void {
    if (status === STATUS.ok) return;
    const message = this.lastError();
    if ((status >= STATUS.firstDataError && status <= STATUS.lastDataError) || status === STATUS.invalidArgument) {
      throw new RankSortInputError(message);
    }
    if (status === STATUS.noDevice) throw new BackendUnavailableError(`cuda: ${message}`);
    throw new Error(`cuda: ${message} (status ${status})`);
  }
}

function checkLengths(loss: string, logits: Float32Array, targets: Float32Array): number {
  if (targets.length !== logits.length) {
    throw new RankSortInputError(
      `${loss}: logits has ${logits.length} elements but targets has ${targets.length}; they must match element for element`,
    );
  }
  if (logits.length === 0) throw new RankSortInputError(`${loss}: logits is empty (expected at least one element)`);
  return logits.length;
}

function countsOf(counts: BigInt64Array): { numPositives: number; numRelevantNegatives: number } {
  return { numPositives: Number(counts[0]), numRelevantNegatives: Number(counts[1]) };
}

/** Open the library with this runtime's FFI. Throws BackendUnavailableError when that is impossible. */
export async function loadCudaLibrary(path: string = cudaLibraryPath()): Promise<CudaLibrary> {
  const fsModule = "node:fs"; // computed: see the note at the imports
  const { existsSync } = (await import(fsModule)) as typeof import("node:fs");
  if (!existsSync(path)) {
    throw new BackendUnavailableError(
      `cuda: no CUDA library at ${path}; run \`npm run build:cuda\` (needs nvcc and cmake) or set RANKSORT_CUDA_LIBRARY`,
    );
  }
  const host = currentHost();
  let symbols: BoundSymbols;
  try {
    if (host === "bun") symbols = await (await import("./cuda_ffi_bun.ts")).bindWithBun(path, CUDA_ABI);
    else if (host === "deno") symbols = (await import("./cuda_ffi_deno.ts")).bindWithDeno(path, CUDA_ABI);
    else symbols = await (await import("./cuda_ffi_node.ts")).bindWithKoffi(path, CUDA_ABI);
  } catch (e) {
    if (e instanceof BackendUnavailableError) throw e;
    throw new BackendUnavailableError(`cuda: could not load ${path} under ${host}: ${(e as Error).message}`);
  }
  return new CudaLibrary(path, host, symbols);
}
