#!/usr/bin/env bash
# Build build/cuda/libranksort_cuda.so (sm_80 + sm_90 machine code, sm_90 PTX) with cmake and nvcc.
# No GPU needed. Set ORT_INCLUDE_DIR to a directory holding onnxruntime_c_api.h to add the ONNX
# Runtime custom ops (RegisterCustomOps); use headers from the onnxruntime release you load into.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="${RANKSORT_CUDA_BUILD_DIR:-$repo/build/cuda}"

if ! command -v nvcc >/dev/null 2>&1; then
  for candidate in /usr/local/cuda/bin /usr/local/bin; do
    [ -x "$candidate/nvcc" ] && export PATH="$candidate:$PATH" && break
  done
fi
command -v nvcc >/dev/null 2>&1 || { echo "build:cuda: nvcc not found (install the CUDA toolkit or put nvcc on PATH)" >&2; exit 1; }
command -v cmake >/dev/null 2>&1 || { echo "build:cuda: cmake not found" >&2; exit 1; }

mkdir -p "$build"
cmake -S "$here" -B "$build" -DCMAKE_CUDA_COMPILER="$(command -v nvcc)" -DORT_INCLUDE_DIR="${ORT_INCLUDE_DIR:-}" \
  -DCMAKE_CUDA_ARCHITECTURES="${RANKSORT_CUDA_ARCHITECTURES:-80-real;90-real;90-virtual}" >"$build/configure.log" 2>&1 \
  || { cat "$build/configure.log" >&2; exit 1; }
grep -E "^-- ranksort:" "$build/configure.log" || true
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 4)"
echo "build:cuda: $build/libranksort_cuda.so"
