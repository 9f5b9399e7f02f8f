#!/usr/bin/env python3
"""Self-test of bench/torch_reference.py: exactness on the tiny golden cases, and (with --official)
speed against the official implementation itself on the same input.

Usage: python3 bench/torch_reference_check.py --golden-dir ../shared/golden
       python3 bench/torch_reference_check.py --official PATH/TO/RankSortLoss [--loss rank_sort]
           [--numel 1.6e6] [--positives 500] [--repeats 5] [--max-ratio 1.5]
Exits non-zero (AssertionError) on any mismatch; prints one "ok" line per check.

--official loads mmdet/models/losses/ranking_losses.py from a checkout of kemaloksuz/RankSortLoss
(not shipped here), with Tensor.cuda() made the identity in this process so it runs on the CPU,
and times it against bench/torch_reference.py on the benchmark's speed case: logits ~ N(-4.6, 0.1),
IoU targets ~ U(0.1, 1) on the positives (1 for ap/alrp), every negative relevant. The two run
alternately in this one process (one thread), --repeats pairs; losses must agree to 1e-6 and
the median of the pairs' time ratios must not exceed --max-ratio.
"""

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time

import numpy as np
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


def load_official(checkout):
    path = os.path.join(checkout, "mmdet", "models", "losses", "ranking_losses.py")
    if not os.path.isfile(path):
        raise SystemExit("--official: %s not found (expected a kemaloksuz/RankSortLoss checkout)" % path)
    torch.Tensor.cuda = lambda self, *args, **kwargs: self  # the official code allocates with .cuda()
    spec = importlib.util.spec_from_file_location("official_ranking_losses", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def speed_case(numel, positives, loss, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(-4.6, 0.1, numel).astype(np.float32)
    targets = np.zeros(numel, dtype=np.float32)
    where = rng.choice(numel, positives, replace=False)
    iou = rng.uniform(0.1, 1.0, positives).astype(np.float32)
    targets[where] = iou if loss == "rank_sort" else 1.0
    reg = (1 - iou[np.argsort(where)]).astype(np.float32)  # one per positive, flattened order
    return torch.from_numpy(logits), torch.from_numpy(targets), torch.from_numpy(reg)


def check_against_official(args):
    official = load_official(args.official)
    logits, targets, reg = speed_case(int(float(args.numel)), args.positives, args.loss)

    def run_official():
        with torch.no_grad():
            if args.loss == "rank_sort":
                return [float(v) for v in official.RankSort.apply(logits, targets, 0.5, 1e-10)]
            if args.loss == "ap":
                return [float(official.APLoss.apply(logits, targets, 1.0))]
            return [float(official.aLRPLoss.apply(logits, targets, reg, 1.0, 1e-5)[0])]

    def run_ours():
        if args.loss == "rank_sort":
            r = rank_sort_loss(logits, targets, 0.5, 1e-10)
            return [r["ranking_loss"], r["sorting_loss"]]
        if args.loss == "ap":
            return [ap_loss(logits, targets, 1.0)["loss"]]
        return [alrp_loss(logits, targets, reg, 1.0, 1e-5)["loss"]]

    times = {"official": [], "ours": []}
    for k in range(args.repeats):
        for name, fn in (("official", run_official), ("ours", run_ours)) if k % 2 == 0 else \
                (("ours", run_ours), ("official", run_official)):
            t0 = time.perf_counter()
            values = fn()
            times[name].append(time.perf_counter() - t0)
            if name == "official":
                want = values
            else:
                got = values
        for a, b in zip(got, want):
            assert abs(a - b) <= LOSS_TOL, "%s loss differs from the official: %r vs %r" % (args.loss, got, want)
        print("run %d: official %.3f s, torch_reference %.3f s" % (k + 1, times["official"][-1], times["ours"][-1]),
              flush=True)
    t_off = statistics.median(times["official"])
    t_ours = statistics.median(times["ours"])
    # Under load, back-to-back pairs share the machine's state: the median of per-pair ratios is
    # steadier than the ratio of medians.
    ratio = statistics.median(o / f for o, f in zip(times["ours"], times["official"]))
    print("%s N=%d P=%d: official %.3f s, torch_reference %.3f s (medians of %d), median pair ratio %.2f"
          % (args.loss, logits.numel(), args.positives, t_off, t_ours, args.repeats, ratio))
    assert ratio <= args.max_ratio, "torch_reference is %.2fx the official time (limit %.2fx)" % (ratio, args.max_ratio)
    print("ok speed ratio %.2f <= %.2f" % (ratio, args.max_ratio))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--golden-dir")
    p.add_argument("--official", help="a kemaloksuz/RankSortLoss checkout: time against it")
    p.add_argument("--loss", default="rank_sort", choices=["rank_sort", "ap", "alrp"])
    p.add_argument("--numel", default="1.6e6")
    p.add_argument("--positives", type=int, default=500)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--max-ratio", type=float, default=1.5)
    args = p.parse_args(argv)
    if not args.golden_dir and not args.official:
        p.error("give --golden-dir, --official, or both")
    torch.set_num_threads(1)
    if args.golden_dir:
        check_rank_sort(args.golden_dir)
        check_ap(args.golden_dir)
        check_alrp(args.golden_dir)
    if args.official:
        check_against_official(args)
    print("ok all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
