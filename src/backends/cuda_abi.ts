// The C ABI of libranksort_cuda.so (kernels/cuda/ranksort_cuda.h) as data: each symbol's parameter
// and result kinds, which every FFI host (bun:ffi, Deno.dlopen, koffi) translates into its own types.

/** ptr: a TypedArray passed by address; cstring: a returned `const char*` read as a string. */
export type AbiType = "ptr" | "i32" | "i64" | "f64" | "cstring";

export interface AbiSymbol {
  readonly parameters: readonly AbiType[];
  readonly result: AbiType;
}

const lossEntryPoints = (where: "host" | "cpu") =>
  ({
    // logits, targets, n, delta, eps, grad_ranking, grad_sorting, grad, losses[2], counts[2]
    [`ranksort_rank_sort_${where}`]: { parameters: ["ptr", "ptr", "i64", "f64", "f64", "ptr", "ptr", "ptr", "ptr", "ptr"], result: "i32" },
    // logits, targets, n, delta, grad, loss[1], counts[2]
    [`ranksort_ap_${where}`]: { parameters: ["ptr", "ptr", "i64", "f64", "ptr", "ptr", "ptr"], result: "i32" },
    // logits, targets, n, regression_losses, num_regression, delta, eps, grad, loss[1], rank, order (int64), counts[2]
    [`ranksort_alrp_${where}`]: {
      parameters: ["ptr", "ptr", "i64", "ptr", "i64", "f64", "f64", "ptr", "ptr", "ptr", "ptr", "ptr"],
      result: "i32",
    },
  }) as Record<string, AbiSymbol>;

export const CUDA_ABI: Readonly<Record<string, AbiSymbol>> = {
  ranksort_cuda_version: { parameters: [], result: "cstring" },
  ranksort_cuda_device_count: { parameters: [], result: "i32" },
  ranksort_last_error_message: { parameters: [], result: "cstring" },
  ...lossEntryPoints("host"),
  ...lossEntryPoints("cpu"),
};

/** Symbols bound by a host: call with numbers and TypedArrays; cstring results come back as strings. */
export type BoundSymbols = Record<string, (...args: (number | ArrayBufferView)[]) => number | string>;

/** Status codes of ranksort_cuda.h that the loaders distinguish. */
export const STATUS = {
  ok: 0,
  firstDataError: 1,
  lastDataError: 6,
  invalidArgument: 10,
  noDevice: 13,
} as const;
