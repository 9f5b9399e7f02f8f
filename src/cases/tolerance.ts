// The tolerances a faithful float32 port meets against the reference (shared/golden/README.md).

/** Losses: |Δ| ≤ 1e-6. */
export const LOSS_TOL = 1e-6;
/** Gradients: |Δ| ≤ 1e-7 + 1e-4·|ref|. */
export const GRAD_ABS_TOL = 1e-7;
export const GRAD_REL_TOL = 1e-4;

/** max_i |a_i − b_i| / (abs + rel·|b_i|): ≤ 1 means within tolerance everywhere; NaN or a length mismatch gives Infinity. */
export function maxToleranceRatio(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  abs = GRAD_ABS_TOL,
  rel = GRAD_REL_TOL,
): number {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const ratio = Math.abs(actual[i]! - expected[i]!) / (abs + rel * Math.abs(expected[i]!));
    if (Number.isNaN(ratio)) return Infinity;
    if (ratio > worst) worst = ratio;
  }
  return worst;
}
