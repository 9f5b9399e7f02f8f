// Locating shared/golden and the tolerances its README states.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Losses: |Δ| ≤ 1e-6. Gradients: |Δ| ≤ 1e-7 + 1e-4·|ref|. */
export const LOSS_TOL = 1e-6;
export const GRAD_ABS_TOL = 1e-7;
export const GRAD_REL_TOL = 1e-4;

export function goldenDir(): string | undefined {
  const fromEnv = process.env.RANKSORT_GOLDEN_DIR;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const beside = join(repo, "..", "shared", "golden");
  return existsSync(beside) ? beside : undefined;
}

/** max_i |a_i − b_i| / (abs + rel·|b_i|): ≤ 1 means within tolerance everywhere. */
export function maxToleranceRatio(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  abs = GRAD_ABS_TOL,
  rel = GRAD_REL_TOL,
): number {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    const ratio = d / (abs + rel * Math.abs(expected[i]!));
    if (Number.isNaN(ratio)) return Infinity;
    if (ratio > worst) worst = ratio;
  }
  return worst;
}
