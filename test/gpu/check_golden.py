"""Every golden case through libranksort_cuda.so's C ABI, within the golden tolerances.

  python3 test/gpu/check_golden.py            # the GPU (host-pointer entry points)
  python3 test/gpu/check_golden.py --cpu      # the library's CPU port (no GPU needed): checks the
                                              # case loading, the tolerances and the shared arithmetic
Exits 1 when a case is outside tolerance or fails, 2 when the golden directory is missing.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from golden_cases import case_files, compare, golden_dir, read_case  # noqa: E402
from ranksort_ctypes import RankSortError, RankSortLibrary  # noqa: E402


def run_case(lib, case, where):
    p = case.get("params", {})
    if case["loss"] == "rank_sort":
        return lib.rank_sort(case["logits"], case["targets"], p.get("delta_RS", 0.5), p.get("eps", 1e-10), where=where)
    if case["loss"] == "ap":
        return lib.ap(case["logits"], case["targets"], p.get("delta", 1.0), where=where)
    return lib.alrp(case["logits"], case["targets"], case["regression_losses"], p.get("delta", 1.0), p.get("eps", 1e-5), where=where)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu", action="store_true", help="use the library's CPU entry points instead of the GPU")
    ap.add_argument("--library", help="path of libranksort_cuda.so (default: $RANKSORT_CUDA_LIBRARY or build/cuda)")
    args = ap.parse_args()
    where = "cpu" if args.cpu else "host"
    directory = golden_dir()
    if not directory:
        print("check_golden: no golden directory (set RANKSORT_GOLDEN_DIR or place shared/golden beside the repo)")
        return 2
    lib = RankSortLibrary(args.library)
    print(f"check_golden: {lib.version()} from {lib.path}; entry points: {where}; cases: {directory}")
    if where == "host" and lib.device_count() == 0:
        print(f"check_golden: no CUDA device: {lib.lib.ranksort_last_error_message().decode()}")
        return 1
    failed = 0
    worst_loss, worst_grad = 0.0, 0.0
    files = case_files(directory)
    for f in files:
        case = read_case(os.path.join(directory, f))
        start = time.perf_counter()
        try:
            result = run_case(lib, case, where)
        except RankSortError as e:
            failed += 1
            print(f"FAIL {f}: {e}")
            continue
        ms = (time.perf_counter() - start) * 1e3
        failures, loss_err, grad_ratio = compare(case, result)
        worst_loss, worst_grad = max(worst_loss, loss_err), max(worst_grad, grad_ratio)
        status = "FAIL" if failures else "ok  "
        failed += bool(failures)
        print(f"{status} {f}: n={case['logits'].size} P={result['num_positives']} loss err {loss_err:.2e}, "
              f"grad err/tol {grad_ratio:.3f}, {ms:.1f} ms{'; ' + '; '.join(failures) if failures else ''}")
    print(f"check_golden ({where}): {len(files) - failed}/{len(files)} within tolerance; "
          f"worst loss error {worst_loss:.2e} (≤ 1e-6), worst grad error/tolerance {worst_grad:.3f} (≤ 1)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
