/**
 * `ranksort/cuda`: the CUDA kernels' shared library (`npm run build:cuda`), loaded through bun:ffi,
 * Deno.dlopen or koffi under Node, and the loss backend on it.
 *
 * @packageDocumentation
 */
export { CudaLibrary, cudaLibraryPath, currentHost, loadCudaLibrary, type FfiHost } from "../backends/cuda_library.ts";
export { cudaBackend } from "../backends/cuda.ts";
