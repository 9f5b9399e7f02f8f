#!/usr/bin/env bash
# The WebGPU benchmark on a machine with a real GPU: the WGSL kernels, the float32 function body on
# onnxruntime-web's WebGPU EP, and the CPU kernel, at detection sizes. Needs the GPU's Vulkan driver
# (NVIDIA, AMD/RADV, Intel/ANV) and this repository's npm install (which brings Deno). Run from the
# repository root:  bash bench/webgpu_real_gpu.sh [--sizes 1.6e6,1.6e7] [--positives 500,2000]
set -euo pipefail
cd "$(dirname "$0")/.."
deno=node_modules/.bin/deno
[ -x "$deno" ] || deno=$(command -v deno || true)
[ -n "$deno" ] || { echo "no deno: run npm install first" >&2; exit 1; }
# Never let Vulkan fall back to an emulator without saying so: unset SwiftShader/lavapipe overrides.
unset VK_ICD_FILENAMES VK_DRIVER_FILES
if command -v vulkaninfo >/dev/null; then vulkaninfo --summary 2>/dev/null | grep -E "deviceName|driverName" || true; fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
chmod 700 "$XDG_RUNTIME_DIR"
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--sizes 1.6e5,1.6e6,1.6e7 --positives 500,2000 --runs 9)
out=$("$deno" run -A bench/webgpu_kernels.ts "${args[@]}" 2>&1 | grep -v "onnxruntime:")
echo "$out"
if grep -q "CPU-EMULATED" <<<"$out"; then
  echo "warning: Deno picked a CPU-emulated adapter — this machine's GPU has no working Vulkan driver here" >&2
  exit 2
fi
