import { rankSortLoss } from "ranksort";

// Flattened anchors × classes: IoU targets (> 0) on positives, 0 on negatives, -1 for ignored.
const logits = new Float32Array([1.5, 2.0, 0.5, 1.0, -0.25, 0.75, 0.25, -2.0]);
const targets = new Float32Array([0, 0.875, 0, 0.5, 0, 0, 0.75, -1]);
const r = rankSortLoss(logits, targets, { delta: 0.5 });
console.log(r.rankingLoss, r.sortingLoss, r.grad); // grad: the update to feed back into the network
