"""ctypes bindings of libranksort_cuda.so's host-pointer and CPU entry points (numpy in, numpy out).

Shared by check_golden.py and bench.py. `path` defaults to $RANKSORT_CUDA_LIBRARY or
build/cuda/libranksort_cuda.so under the repository root.
"""
import ctypes
import os

import numpy as np

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_LIBRARY = os.path.join(REPO, "build", "cuda", "libranksort_cuda.so")

F32P = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
I64P = np.ctypeslib.ndpointer(np.int64, flags="C_CONTIGUOUS")
c_i64, c_double, c_int, c_void_p, c_size_t = ctypes.c_int64, ctypes.c_double, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t


class RankSortError(RuntimeError):
    pass


def library_path():
    return os.environ.get("RANKSORT_CUDA_LIBRARY") or DEFAULT_LIBRARY


class RankSortLibrary:
    """One loaded library; `where` picks the entry points: "host" (GPU) or "cpu" (the C++ port)."""

    def __init__(self, path=None):
        self.path = path or library_path()
        lib = ctypes.CDLL(self.path)
        lib.ranksort_cuda_version.restype = ctypes.c_char_p
        lib.ranksort_cuda_device_count.restype = c_int
        lib.ranksort_last_error_message.restype = ctypes.c_char_p
        for where in ("host", "cpu"):
            f = getattr(lib, f"ranksort_rank_sort_{where}")
            f.argtypes = [F32P, F32P, c_i64, c_double, c_double, F32P, F32P, F32P, F32P, I64P]
            f.restype = c_int
            f = getattr(lib, f"ranksort_ap_{where}")
            f.argtypes = [F32P, F32P, c_i64, c_double, F32P, F32P, I64P]
            f.restype = c_int
            f = getattr(lib, f"ranksort_alrp_{where}")
            f.argtypes = [F32P, F32P, c_i64, F32P, c_i64, c_double, c_double, F32P, F32P, F32P, I64P, I64P]
            f.restype = c_int
        lib.ranksort_workspace_size.argtypes = [c_i64, c_i64, ctypes.POINTER(c_size_t)]
        lib.ranksort_workspace_size.restype = c_int
        lib.ranksort_rank_sort_device.argtypes = [c_void_p, c_void_p, c_i64, c_double, c_double, c_i64, c_void_p, c_void_p,
                                                  c_void_p, c_void_p, c_void_p, c_void_p, c_size_t, c_void_p]
        lib.ranksort_rank_sort_device.restype = c_int
        self.lib = lib

    def version(self):
        return self.lib.ranksort_cuda_version().decode()

    def device_count(self):
        return self.lib.ranksort_cuda_device_count()

    def _check(self, status):
        if status != 0:
            raise RankSortError(self.lib.ranksort_last_error_message().decode())

    def rank_sort(self, logits, targets, delta=0.5, eps=1e-10, where="host"):
        x, t = np.ascontiguousarray(logits, np.float32), np.ascontiguousarray(targets, np.float32)
        n = x.size
        gr, gs, g = np.empty(n, np.float32), np.empty(n, np.float32), np.empty(n, np.float32)
        losses, counts = np.empty(2, np.float32), np.empty(2, np.int64)
        self._check(getattr(self.lib, f"ranksort_rank_sort_{where}")(x, t, n, delta, eps, gr, gs, g, losses, counts))
        return {"ranking_loss": float(losses[0]), "sorting_loss": float(losses[1]), "grad": g, "grad_ranking": gr,
                "grad_sorting": gs, "num_positives": int(counts[0]), "num_relevant_negatives": int(counts[1])}

    def ap(self, logits, targets, delta=1.0, where="host"):
        x, t = np.ascontiguousarray(logits, np.float32), np.ascontiguousarray(targets, np.float32)
        g, loss, counts = np.empty(x.size, np.float32), np.empty(1, np.float32), np.empty(2, np.int64)
        self._check(getattr(self.lib, f"ranksort_ap_{where}")(x, t, x.size, delta, g, loss, counts))
        return {"loss": float(loss[0]), "grad": g, "num_positives": int(counts[0]), "num_relevant_negatives": int(counts[1])}

    def alrp(self, logits, targets, regression_losses, delta=1.0, eps=1e-5, where="host"):
        x, t = np.ascontiguousarray(logits, np.float32), np.ascontiguousarray(targets, np.float32)
        reg = np.ascontiguousarray(regression_losses, np.float32)
        m = max(reg.size, 1)  # never hand a zero-length array's dangling pointer to the library
        g, loss, counts = np.empty(x.size, np.float32), np.empty(1, np.float32), np.empty(2, np.int64)
        rank, order = np.zeros(m, np.float32), np.zeros(m, np.int64)
        reg_arg = reg if reg.size else np.zeros(1, np.float32)
        self._check(getattr(self.lib, f"ranksort_alrp_{where}")(x, t, x.size, reg_arg, reg.size, delta, eps, g, loss, rank, order, counts))
        p = reg.size
        return {"loss": float(loss[0]), "grad": g, "rank": rank[:p], "order": order[:p], "num_positives": int(counts[0]),
                "num_relevant_negatives": int(counts[1])}
