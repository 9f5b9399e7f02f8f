"""The golden cases (../shared/golden, .json and .json.gz) and their tolerances, as test/support/golden.ts
and src/cases/tolerance.ts define them: losses |Δ| ≤ 1e-6, gradients |Δ| ≤ 1e-7 + 1e-4·|ref|,
aLRP rank relative 1e-6, aLRP order must sort the positives' logits ascending."""
import gzip
import json
import os

import numpy as np

from ranksort_ctypes import REPO

LOSS_TOL = 1e-6
GRAD_ABS_TOL = 1e-7
GRAD_REL_TOL = 1e-4


def golden_dir():
    d = os.environ.get("RANKSORT_GOLDEN_DIR") or os.path.join(REPO, "..", "shared", "golden")
    return d if os.path.isdir(d) else None


def case_files(directory):
    return sorted(f for f in os.listdir(directory) if (f.endswith(".json") or f.endswith(".json.gz")) and f != "MANIFEST.json")


def read_case(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf8") as fh:
        c = json.load(fh)
    c["logits"] = np.asarray(c["logits"], np.float32)
    c["targets"] = np.asarray(c["targets"], np.float32)
    if c["loss"] == "alrp":
        c["regression_losses"] = np.asarray(c["regression_losses"], np.float32)
    return c


def tolerance_ratio(actual, expected, abs_tol=GRAD_ABS_TOL, rel_tol=GRAD_REL_TOL):
    """max |a − e| / (abs + rel·|e|); ≤ 1 passes; a length mismatch or NaN gives inf."""
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if a.shape != e.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    r = np.abs(a - e) / (abs_tol + rel_tol * np.abs(e))
    return float("inf") if np.isnan(r).any() else float(r.max())


def compare(case, result):
    """List of failure descriptions (empty when within tolerance) and (loss error, grad ratio)."""
    out = case["outputs"]
    failures = []
    if case["loss"] == "rank_sort":
        loss_err = max(abs(result["ranking_loss"] - out["ranking_loss"]), abs(result["sorting_loss"] - out["sorting_loss"]))
    else:
        loss_err = abs(result["loss"] - out["loss"])
    grad_ratio = tolerance_ratio(result["grad"], out["grad"])
    if not loss_err <= LOSS_TOL:
        failures.append(f"loss error {loss_err:.3g} > {LOSS_TOL}")
    if not grad_ratio <= 1:
        failures.append(f"grad error/tolerance {grad_ratio:.3g} > 1")
    if case["loss"] == "rank_sort":
        parts = np.abs(result["grad_ranking"].astype(np.float64) + result["grad_sorting"] - result["grad"]).max()
        if parts > 1e-7:
            failures.append(f"grad_ranking + grad_sorting differs from grad by {parts:.3g}")
        if np.any(result["grad_sorting"][case["targets"] == 0] != 0):
            failures.append("grad_sorting is not zero on negatives")
    if case["loss"] == "alrp":
        rank_ratio = tolerance_ratio(result["rank"], out["rank"], 0.0, 1e-6)
        if not rank_ratio <= 1:
            failures.append(f"rank error/tolerance {rank_ratio:.3g} > 1")
        pos_logits = case["logits"][case["targets"] == 1]
        order = np.asarray(result["order"])
        if sorted(order.tolist()) != list(range(pos_logits.size)):
            failures.append("order is not a permutation of the positives")
        elif not np.array_equal(pos_logits[order], np.sort(pos_logits, kind="stable")):
            failures.append("order does not sort the positives' logits ascending")
    return failures, loss_err, grad_ratio
