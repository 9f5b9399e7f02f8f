// The parts of a detector training run that must not differ between hosts (the CLI's run loop and
// the browser app's worker): each epoch's image order, each step's augmentation seed and learning rate.

import { mulberry32 } from "../util/random.ts";

/** The training images' order in `epoch` (0-based): a seeded Fisher–Yates shuffle of 0 … n−1. */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  const rand = mulberry32(seed * 1000 + epoch);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** The random source of step `s` of `epoch`'s augmentation: its own seed, so a step resumed mid-epoch sees the same batch. */
export function stepRandom(seed: number, epoch: number, s: number): () => number {
  return mulberry32((seed * 1000 + epoch) * 100_003 + s + 1);
}

/** Linear warm-up over the first epoch's steps (at most 20), then cosine decay to 5% of the rate. */
export function stepLearningRate(lr: number, step: number, stepsPerEpoch: number, totalSteps: number): number {
  const warm = Math.min(1, (step + 1) / Math.max(1, Math.min(stepsPerEpoch, 20)));
  return lr * warm * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * step) / totalSteps)));
}

/** The samples of step `s`: a fixed-size batch (static or replicated graphs) wraps round to the start of the order. */
export function stepPicks(order: readonly number[], s: number, batchSize: number, fixed: boolean): number[] {
  return Array.from({ length: fixed ? batchSize : Math.min(batchSize, order.length - s * batchSize) }, (_, k) => order[(s * batchSize + k) % order.length]!);
}
