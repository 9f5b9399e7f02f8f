"""A PyTorch transcription of the official RankSort forward/backward as REFERENCE.md describes it: a
Python loop over the positives in ascending logit, each step touching every positive and every
relevant negative (O(P·(P + R))). It is the speed baseline of bench.py, run on the same GPU.

`max_positives` stops the loop early so that a slow case can be timed on a prefix of the positives
and extrapolated (the caller labels such numbers); the losses are then meaningless.
"""
import torch


def step(x, delta):
    if delta > 0:
        return torch.clamp(x / (2 * delta) + 0.5, min=0, max=1)
    return (x >= 0).to(x.dtype)


def rank_sort_reference(logits, targets, delta=0.5, eps=1e-10, max_positives=None):
    """Returns (ranking_loss, sorting_loss, grad, positives_visited)."""
    fg = targets > 0
    fg_logits = logits[fg]
    fg_targets = targets[fg]
    num_pos = fg_logits.numel()
    threshold = fg_logits.min() - delta
    relevant_bg = (targets == 0) & (logits >= threshold)
    bg_logits = logits[relevant_bg]
    ranking_error = torch.zeros_like(fg_logits)
    sorting_error = torch.zeros_like(fg_logits)
    fg_grad = torch.zeros_like(fg_logits)
    bg_grad = torch.zeros_like(bg_logits)
    visited = 0
    for ii in torch.argsort(fg_logits):
        if max_positives is not None and visited >= max_positives:
            break
        visited += 1
        fg_rel = step(fg_logits - fg_logits[ii], delta)
        bg_rel = step(bg_logits - fg_logits[ii], delta)
        rank_pos = fg_rel.sum()
        false_pos = bg_rel.sum()
        ranking_error[ii] = false_pos / (rank_pos + false_pos)
        current_sorting = (fg_rel * (1 - fg_targets)).sum() / rank_pos
        at_least = (fg_targets >= fg_targets[ii]).to(fg_rel.dtype) * fg_rel
        target_sorting = (at_least * (1 - fg_targets)).sum() / at_least.sum()
        sorting_error[ii] = current_sorting - target_sorting
        # The reference's Python `if` on a tensor: a device-to-host sync every step, as in the original.
        if false_pos > eps:
            fg_grad[ii] -= ranking_error[ii]
            bg_grad += bg_rel * (ranking_error[ii] / false_pos)
        missorted = (fg_targets < fg_targets[ii]).to(fg_rel.dtype) * fg_rel
        denom = missorted.sum()
        if denom > eps:
            fg_grad[ii] -= sorting_error[ii]
            fg_grad += missorted * (sorting_error[ii] / denom)
    grad = torch.zeros_like(logits)
    grad[fg] = fg_grad / num_pos
    grad[relevant_bg] = bg_grad / num_pos
    return ranking_error.mean(), sorting_error.mean(), grad, visited
