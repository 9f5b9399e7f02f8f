#!/usr/bin/env python3
"""PyTorch (CPU) timing baseline for the Rank & Sort, AP and aLRP loss loops.

This is a benchmark baseline only: it re-expresses the per-positive Python
loops of the original PyTorch reference implementations (forward pass, which
also computes the identity-update gradient) so their wall time can be compared
with the ranksort kernels. Python is not a runtime requirement of ranksort.

Inputs are raw little-endian float32 files (no header):
  --logits             N values, flattened classification logits
  --targets            N values, flattened targets
                       (rank_sort: IoU in (0,1] for positives, 0 negatives;
                        ap/alrp: 1 positives, 0 negatives; anything else ignored)
  --regression-losses  P values, one per positive in flattened order (alrp only)

Output: a single JSON line on stdout:
  {"loss": "rank_sort"|"ap"|"alrp",
   "seconds": setup + loop wall time (file reading excluded); when
              "extrapolated", setup + loop_time * positives / positives_timed
              + post-loop time,
   "positives_timed": k, "positives": P, "extrapolated": bool,
   "setup_seconds": time before the first loop iteration,
   rank_sort: "ranking_loss", "sorting_loss";  ap/alrp: "loss_value",
   "grad_sum", "grad_abs_sum" (float64 sums of the float32 gradient),
   "numel", "relevant_negatives", "delta", "threads", "torch"}
  Loss values and grad sums are null when extrapolated (the loop was cut).
  --max-seconds <= 0 disables early stopping.

Usage:
  python3 bench/torch_reference.py --loss rank_sort|ap|alrp \
      --logits FILE.f32 --targets FILE.f32 [--regression-losses FILE.f32] \
      [--delta D] [--threads 1] [--max-seconds 20]
"""

import argparse
import json
import math
import sys
import time

import numpy as np
import torch

DEFAULT_DELTA = {"rank_sort": 0.5, "ap": 1.0, "alrp": 1.0}
DEFAULT_EPS = {"rank_sort": 1e-10, "alrp": 1e-5}


# --------------------------------------------------------------------------
# timing helper
# --------------------------------------------------------------------------


class LoopBudget:
    """Wall-clock timer for the setup + per-positive loop.

    Created just before the loss function runs (after file reading).
    The loss calls ``loop_started()`` once its setup (masks, selections,
    allocations, argsort) is done, ``tick(done)`` after each positive, and
    ``finish()`` after writing the gradient. ``tick`` returns True when the
    loop should stop early: the projected full time exceeds ``max_seconds``
    and at least 10% of ``max_seconds`` has been spent in the loop (so the
    per-positive rate is not judged on a few noisy first iterations).
    A non-positive ``max_seconds`` disables early stopping.

    The projection is setup + loop_elapsed * total / done: every iteration
    of the reference loop costs about the same (same vector lengths), while
    the setup is paid once and is not scaled up.
    """

    def __init__(self, total, max_seconds):
        self.total = int(total)
        self.max_seconds = float(max_seconds)
        self.done = 0
        self.stopped_early = False
        self.start = time.perf_counter()
        self.loop_start = None
        self.stop_time = None
        self.end = None

    def loop_started(self):
        self.loop_start = time.perf_counter()

    def setup_seconds(self):
        return (self.loop_start if self.loop_start is not None else self.start) - self.start

    def _projection(self, now, done):
        loop_elapsed = now - (self.loop_start if self.loop_start is not None else self.start)
        return self.setup_seconds() + loop_elapsed * self.total / done, loop_elapsed

    def tick(self, done):
        self.done = done
        if self.max_seconds <= 0 or done >= self.total:
            return False
        now = time.perf_counter()
        projected, loop_elapsed = self._projection(now, done)
        if projected > self.max_seconds and loop_elapsed >= 0.1 * self.max_seconds:
            self.stopped_early = True
            self.stop_time = now
            return True
        return False

    def finish(self):
        self.end = time.perf_counter()

    def elapsed(self):
        end = self.end if self.end is not None else time.perf_counter()
        return end - self.start

    def seconds(self):
        """Measured time, or (when stopped early) the projection to all positives
        plus the time spent after the loop writing the gradient."""
        if self.stopped_early:
            projected = self._projection(self.stop_time, self.done)[0]
            return projected + (self.end - self.stop_time)
        return self.elapsed()


class _NoBudget(LoopBudget):
    """Budget that never stops (used by the self-test)."""

    def __init__(self):
        super().__init__(0, 0)


# The smoothed Heaviside H(x) = clamp(x / (2 delta) + 0.5, 0, 1) (a step, H(0) = 1, for delta == 0)
# is written out inline in every loop, in the official statement order: differences against the
# positives and the negatives first, then the transform of each, reassigning the same names. This
# is not style: the loops allocate a few tensors of M floats per positive, and glibc hands them out
# from the heap or from fresh mmap pages depending on which ones are alive when the next is
# allocated. Wrapping H in a helper kept one more M-sized temporary alive per call and made the
# allocator return memory to the OS and fault it back in on every positive: 10-15x slower than
# the official code on the same input (bench/torch_reference_check.py --official measures this).


def _select(logits, targets, positive_mask, delta):
    """Positive logits, relevant-negative mask/logits (t == 0 and s >= min(s_pos) - delta)."""
    pos_logits = logits[positive_mask]
    threshold = torch.min(pos_logits) - delta
    relevant_neg_mask = (targets == 0) & (logits >= threshold)
    return pos_logits, relevant_neg_mask, logits[relevant_neg_mask]


# --------------------------------------------------------------------------
# losses (each returns a dict of results; budget may stop the loop early)
# --------------------------------------------------------------------------


def rank_sort_loss(logits, targets, delta=0.5, eps=1e-10, budget=None):
    """Rank & Sort loss: returns ranking_loss, sorting_loss, grad, positives_done."""
    budget = budget or _NoBudget()
    with torch.no_grad():
        grad = torch.zeros(logits.shape, dtype=torch.float32)
        positive_mask = targets > 0.0
        pos_logits, relneg_mask, relneg_logits = _select(logits, targets, positive_mask, delta)
        pos_targets = targets[positive_mask]
        num_pos = pos_logits.numel()

        relneg_grad = torch.zeros(relneg_logits.numel(), dtype=torch.float32)
        pos_grad = torch.zeros(num_pos, dtype=torch.float32)
        ranking_err = torch.zeros(num_pos, dtype=torch.float32)
        sorting_err = torch.zeros(num_pos, dtype=torch.float32)

        order = torch.argsort(pos_logits)
        done = 0
        budget.loop_started()
        for i in order:
            pos_rel = pos_logits - pos_logits[i]  # includes i itself: H(0) = 0.5 (or 1 for delta 0)
            neg_rel = relneg_logits - pos_logits[i]
            if delta > 0:
                pos_rel = torch.clamp(pos_rel / (2 * delta) + 0.5, min=0, max=1)
                neg_rel = torch.clamp(neg_rel / (2 * delta) + 0.5, min=0, max=1)
            else:
                pos_rel = (pos_rel >= 0).float()
                neg_rel = (neg_rel >= 0).float()

            rank_among_pos = torch.sum(pos_rel)
            false_pos = torch.sum(neg_rel)
            rank = rank_among_pos + false_pos
            ranking_err[i] = false_pos / rank

            sort_err_now = torch.sum(pos_rel * (1 - pos_targets)) / rank_among_pos
            not_below = pos_targets >= pos_targets[i]
            ideal = not_below * pos_rel
            sort_err_ideal = torch.sum(ideal * (1 - pos_targets)) / torch.sum(ideal)
            sorting_err[i] = sort_err_now - sort_err_ideal

            if false_pos > eps:
                pos_grad[i] -= ranking_err[i]
                relneg_grad += neg_rel * (ranking_err[i] / false_pos)

            missorted = (~not_below) * pos_rel
            missorted_total = torch.sum(missorted)
            if missorted_total > eps:
                pos_grad[i] -= sorting_err[i]
                pos_grad += missorted * (sorting_err[i] / missorted_total)

            done += 1
            if budget.tick(done):
                break

        grad[positive_mask] = pos_grad / num_pos
        grad[relneg_mask] = relneg_grad / num_pos
        ranking_loss = ranking_err.mean()
        sorting_loss = sorting_err.mean()
    budget.finish()
    return {
        "ranking_loss": float(ranking_loss),
        "sorting_loss": float(sorting_loss),
        "grad": grad,
        "positives": num_pos,
        "positives_done": done,
        "relevant_negatives": int(relneg_logits.numel()),
    }


def ap_loss(logits, targets, delta=1.0, budget=None):
    """AP loss (interpolated precision): returns loss, grad, positives_done."""
    budget = budget or _NoBudget()
    with torch.no_grad():
        grad = torch.zeros(logits.shape, dtype=torch.float32)
        positive_mask = targets == 1
        pos_logits, relneg_mask, relneg_logits = _select(logits, targets, positive_mask, delta)
        num_pos = pos_logits.numel()

        relneg_grad = torch.zeros(relneg_logits.numel(), dtype=torch.float32)
        pos_grad = torch.zeros(num_pos, dtype=torch.float32)
        ranks = torch.zeros(num_pos, dtype=torch.float32)
        precision = torch.zeros(num_pos, dtype=torch.float32)
        best_prec = 0

        order = torch.argsort(pos_logits)
        done = 0
        budget.loop_started()
        for i in order:
            pos_rel = pos_logits - pos_logits[i]
            if delta > 0:
                pos_rel = torch.clamp(pos_rel / (2 * delta) + 0.5, min=0, max=1)
            else:
                pos_rel = (pos_rel >= 0).float()
            pos_rel[i] = 0  # the self term is excluded (1 + ... below)
            neg_rel = relneg_logits - pos_logits[i]
            if delta > 0:
                neg_rel = torch.clamp(neg_rel / (2 * delta) + 0.5, min=0, max=1)
            else:
                neg_rel = (neg_rel >= 0).float()

            rank_among_pos = 1 + torch.sum(pos_rel)
            false_pos = torch.sum(neg_rel)
            ranks[i] = rank_among_pos + false_pos
            prec_now = rank_among_pos / ranks[i]
            if best_prec <= prec_now:
                best_prec = prec_now
                relneg_grad += neg_rel / ranks[i]
            else:
                relneg_grad += (neg_rel / ranks[i]) * ((1 - best_prec) / (1 - prec_now))
            pos_grad[i] = -(1 - best_prec)
            precision[i] = best_prec

            done += 1
            if budget.tick(done):
                break

        grad[positive_mask] = pos_grad
        grad[relneg_mask] = relneg_grad
        grad /= num_pos
        loss = 1 - precision.mean()
    budget.finish()
    return {
        "loss": float(loss),
        "grad": grad,
        "positives": num_pos,
        "positives_done": done,
        "relevant_negatives": int(relneg_logits.numel()),
    }


def alrp_loss(logits, targets, regression_losses, delta=1.0, eps=1e-5, budget=None):
    """aLRP classification loss: returns loss, grad, positives_done.

    ``regression_losses`` holds one value per positive, in flattened order.
    """
    budget = budget or _NoBudget()
    with torch.no_grad():
        grad = torch.zeros(logits.shape, dtype=torch.float32)
        positive_mask = targets == 1
        pos_logits, relneg_mask, relneg_logits = _select(logits, targets, positive_mask, delta)
        num_pos = pos_logits.numel()
        if regression_losses.numel() != num_pos:
            raise ValueError(
                "regression_losses has %d values but there are %d positives"
                % (regression_losses.numel(), num_pos)
            )

        relneg_grad = torch.zeros(relneg_logits.numel(), dtype=torch.float32)
        pos_grad = torch.zeros(num_pos, dtype=torch.float32)
        ranks = torch.zeros(num_pos, dtype=torch.float32)
        precision = torch.zeros(num_pos, dtype=torch.float32)

        order = torch.argsort(pos_logits)
        done = 0
        budget.loop_started()
        for i in order:
            pos_rel = pos_logits - pos_logits[i]
            if delta > 0:
                pos_rel = torch.clamp(pos_rel / (2 * delta) + 0.5, min=0, max=1)
            else:
                pos_rel = (pos_rel >= 0).float()
            pos_rel[i] = 0  # the self term is excluded (1 + ... below)
            neg_rel = relneg_logits - pos_logits[i]
            if delta > 0:
                neg_rel = torch.clamp(neg_rel / (2 * delta) + 0.5, min=0, max=1)
            else:
                neg_rel = (neg_rel >= 0).float()

            rank_among_pos = 1 + torch.sum(pos_rel)
            false_pos = torch.sum(neg_rel)
            ranks[i] = rank_among_pos + false_pos
            precision[i] = rank_among_pos / ranks[i]
            if false_pos > eps:
                pos_grad[i] = -(torch.sum(pos_rel * regression_losses) + false_pos) / ranks[i]
                relneg_grad += neg_rel * (-pos_grad[i] / false_pos)

            done += 1
            if budget.tick(done):
                break

        grad[positive_mask] = pos_grad
        grad[relneg_mask] = relneg_grad
        grad /= num_pos
        loss = 1 - precision.mean()
    budget.finish()
    return {
        "loss": float(loss),
        "grad": grad,
        "positives": num_pos,
        "positives_done": done,
        "relevant_negatives": int(relneg_logits.numel()),
    }


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------


def read_f32(path):
    return torch.from_numpy(np.fromfile(path, dtype="<f4").astype(np.float32, copy=False))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--loss", required=True, choices=["rank_sort", "ap", "alrp"])
    p.add_argument("--logits", required=True, help="raw little-endian float32 file")
    p.add_argument("--targets", required=True, help="raw little-endian float32 file")
    p.add_argument("--regression-losses", help="raw float32 file, one per positive (alrp)")
    p.add_argument("--delta", type=float, default=None,
                   help="default: 0.5 for rank_sort, 1.0 for ap/alrp")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-seconds", type=float, default=20.0,
                   help="stop and extrapolate when the projected time exceeds this (<= 0: never)")
    return p.parse_args(argv)


def run(args):
    torch.set_num_threads(args.threads)
    delta = DEFAULT_DELTA[args.loss] if args.delta is None else args.delta

    logits = read_f32(args.logits)
    targets = read_f32(args.targets)
    if logits.numel() != targets.numel():
        raise ValueError("logits (%d) and targets (%d) differ in length"
                         % (logits.numel(), targets.numel()))
    reg = None
    if args.loss == "alrp":
        if not args.regression_losses:
            raise ValueError("--regression-losses is required for --loss alrp")
        reg = read_f32(args.regression_losses)

    positive_mask = (targets > 0) if args.loss == "rank_sort" else (targets == 1)
    num_pos = int(positive_mask.sum())
    if num_pos == 0:
        raise ValueError("no positives: the reference loops are undefined")

    budget = LoopBudget(num_pos, args.max_seconds)
    if args.loss == "rank_sort":
        res = rank_sort_loss(logits, targets, delta, DEFAULT_EPS["rank_sort"], budget)
    elif args.loss == "ap":
        res = ap_loss(logits, targets, delta, budget)
    else:
        res = alrp_loss(logits, targets, reg, delta, DEFAULT_EPS["alrp"], budget)

    extrapolated = budget.stopped_early
    out = {
        "loss": args.loss,
        "seconds": budget.seconds(),
        "positives_timed": res["positives_done"],
        "positives": res["positives"],
        "extrapolated": extrapolated,
        "setup_seconds": budget.setup_seconds(),
    }
    if args.loss == "rank_sort":
        out["ranking_loss"] = None if extrapolated else res["ranking_loss"]
        out["sorting_loss"] = None if extrapolated else res["sorting_loss"]
    else:
        out["loss_value"] = None if extrapolated else res["loss"]
    grad = res["grad"].double()
    out["grad_sum"] = None if extrapolated else float(grad.sum())
    out["grad_abs_sum"] = None if extrapolated else float(grad.abs().sum())
    out.update({
        "numel": int(logits.numel()),
        "relevant_negatives": res["relevant_negatives"],
        "delta": delta,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    })
    for k, v in out.items():  # keep the line strict JSON
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None
    return out


def main(argv=None):
    out = run(parse_args(argv))
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
