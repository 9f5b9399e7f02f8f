#!/usr/bin/env bash
# The GPU checks of the CUDA kernels, for an NVIDIA GPU machine without network: CUDA toolkit (nvcc),
# cmake, python3 with torch (CUDA), numpy, onnx and onnxruntime. No node/bun/deno needed.
#
#   test/gpu/run.sh                      # from the repository root or anywhere
#   ORT_INCLUDE_DIR=/path/to/onnxruntime/include test/gpu/run.sh
#
# Steps: build libranksort_cuda.so (sm_80/sm_90 + PTX) → golden cases through the library's CPU port
# (sanity of the case loading) → golden cases on the GPU (C ABI, host-pointer path) → the com.ranksort
# custom ops inside Python onnxruntime (only when the library was built with ONNX Runtime headers) →
# benchmark against the reference loop. Each step prints its own result; the script ends with a
# summary and exits 1 if any step failed. Expected total: 2–5 minutes (limit: 10).
#
# ONNX Runtime headers: the Python onnxruntime wheel ships no C headers. Point ORT_INCLUDE_DIR at the
# include directory of the onnxruntime release you load the library into (e.g. the onnxruntime-linux-x64
# tarball's include/, or onnxruntime's include/onnxruntime/core/session); C API version 12 or newer.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"
export RANKSORT_CUDA_LIBRARY="${RANKSORT_CUDA_LIBRARY:-$repo/build/cuda/libranksort_cuda.so}"
started=$SECONDS
failed=()
passed=()

banner() { printf '\n==== %s (%ds) ====\n' "$1" "$((SECONDS - started))"; }

# Run one step; record its outcome without stopping the others.
step() {
  local name="$1"
  shift
  banner "$name"
  if "$@"; then passed+=("$name"); else failed+=("$name (exit $?)"); fi
}

banner "environment"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi not found"
nvcc --version | tail -1 || { echo "nvcc not found: put the CUDA toolkit's bin on PATH"; exit 1; }
cmake --version | head -1
python3 - <<'EOF'
import importlib
for name in ("numpy", "torch", "onnx", "onnxruntime", "cupy"):
    try:
        m = importlib.import_module(name)
        extra = f", CUDA available: {m.cuda.is_available()}" if name == "torch" else ""
        print(f"{name} {m.__version__}{extra}")
    except Exception as e:  # noqa: BLE001
        print(f"{name}: not importable ({e.__class__.__name__})")
EOF

# ONNX Runtime headers: explicit, or a few usual places.
if [ -z "${ORT_INCLUDE_DIR:-}" ]; then
  for candidate in /usr/local/include/onnxruntime /usr/include/onnxruntime /opt/onnxruntime/include \
    /usr/local/include/onnxruntime/core/session /usr/include/onnxruntime/core/session; do
    if [ -f "$candidate/onnxruntime_c_api.h" ]; then export ORT_INCLUDE_DIR="$candidate"; break; fi
  done
fi
if [ -n "${ORT_INCLUDE_DIR:-}" ] && [ -f "$ORT_INCLUDE_DIR/onnxruntime_c_api.h" ]; then
  echo "ONNX Runtime headers: $ORT_INCLUDE_DIR (custom ops will be built)"
else
  echo "ONNX Runtime headers: none found (set ORT_INCLUDE_DIR); the custom-op step will be skipped"
  export ORT_INCLUDE_DIR=""
fi

build() {
  local t0=$SECONDS
  bash "$repo/kernels/cuda/build.sh" && echo "build took $((SECONDS - t0)) s"
}
step "build libranksort_cuda.so" build
if [ ! -f "$RANKSORT_CUDA_LIBRARY" ]; then
  echo "no library at $RANKSORT_CUDA_LIBRARY; nothing else can run"
  exit 1
fi

step "golden cases, library CPU port (sanity)" python3 "$here/check_golden.py" --cpu
step "golden cases, GPU (C ABI)" python3 "$here/check_golden.py"

if nm -D --defined-only "$RANKSORT_CUDA_LIBRARY" | grep -q " RegisterCustomOps$"; then
  if python3 -c "import onnx, onnxruntime" 2>/dev/null; then
    step "com.ranksort custom ops in Python onnxruntime" python3 "$here/check_ort_custom_ops.py"
  else
    banner "com.ranksort custom ops"
    echo "skipped: python3 cannot import onnx and onnxruntime"
  fi
else
  banner "com.ranksort custom ops"
  echo "skipped: the library was built without ONNX Runtime headers (set ORT_INCLUDE_DIR and rerun)"
fi

step "benchmark" timeout 420 python3 "$here/bench.py"

banner "summary"
for s in "${passed[@]+"${passed[@]}"}"; do echo "ok    $s"; done
for s in "${failed[@]+"${failed[@]}"}"; do echo "FAIL  $s"; done
echo "total $((SECONDS - started)) s"
[ ${#failed[@]} -eq 0 ]
