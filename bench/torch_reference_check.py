#!/usr/bin/env python3
"""Self-test of bench/torch_reference.py against the tiny golden cases.

Usage: python3 bench/torch_reference_check.py --golden-dir ../shared/golden
Exits non-zero (AssertionError) on any mismatch; prints one "ok" line per check.
"""

import argparse
import json
import os
import sys

import torch

sys.dont_write_bytecode = True  # leave no __pycache__ next to the script
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import alrp_loss, ap_loss, rank_sort_loss  # noqa: E402

LOSS_TOL = 1e-6
GRAD_ATOL = 1e-7
GRAD_RTOL = 1e-4


def load(golden_dir, name):
    with open(os.path.join(golden_dir, name)) as f:
        return json.load(f)


def f32(values):
    return torch.tensor(values, dtype=torch.float32)


def check_scalar(case, field, got, want):
    diff = abs(got - want)
    assert diff <= LOSS_TOL, "%s %s: got %r want %r (diff %g)" % (case, field, got, want, diff)
    print("ok %s %s diff=%.3g" % (case, field, diff))


def check_grad(case, got, want):
    want = f32(want).double()
    got = got.double()
    assert got.shape == want.shape, "%s grad shape %s vs %s" % (case, got.shape, want.shape)
    diff = (got - want).abs()
    bound = GRAD_ATOL + GRAD_RTOL * want.abs()
    bad = (diff > bound).nonzero().flatten().tolist()
    assert not bad, "%s grad mismatch at %s: got %s want %s" % (
        case, bad, got[bad].tolist(), want[bad].tolist())
    print("ok %s grad max_abs_diff=%.3g" % (case, float(diff.max())))


def check_rank_sort(golden_dir):
    g = load(golden_dir, "rs_tiny_3pos_5neg_delta0.5.json")
    res = rank_sort_loss(f32(g["logits"]), f32(g["targets"]),
                         delta=g["params"]["delta_RS"], eps=g["params"]["eps"])
    check_scalar(g["name"], "ranking_loss", res["ranking_loss"], g["outputs"]["ranking_loss"])
    check_scalar(g["name"], "sorting_loss", res["sorting_loss"], g["outputs"]["sorting_loss"])
    check_grad(g["name"], res["grad"], g["outputs"]["grad"])


def check_ap(golden_dir):
    g = load(golden_dir, "ap_tiny_delta1.json")
    res = ap_loss(f32(g["logits"]), f32(g["targets"]), delta=g["params"]["delta"])
    check_scalar(g["name"], "loss", res["loss"], g["outputs"]["loss"])
    check_grad(g["name"], res["grad"], g["outputs"]["grad"])


def check_alrp(golden_dir):
    g = load(golden_dir, "alrp_tiny_delta1.json")
    res = alrp_loss(f32(g["logits"]), f32(g["targets"]), f32(g["regression_losses"]),
                    delta=g["params"]["delta"], eps=g["params"]["eps"])
    check_scalar(g["name"], "loss", res["loss"], g["outputs"]["loss"])
    check_grad(g["name"], res["grad"], g["outputs"]["grad"])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--golden-dir", required=True)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    check_rank_sort(args.golden_dir)
    check_ap(args.golden_dir)
    check_alrp(args.golden_dir)
    print("ok all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
