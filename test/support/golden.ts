// Locating shared/golden (beside the repository, or RANKSORT_GOLDEN_DIR).
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export { LOSS_TOL, maxToleranceRatio } from "../../src/cases/tolerance.ts";

/** The repository's own exactness cases (test/exactness/: official-code outputs, see its README). */
export function exactnessDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), "..", "exactness");
}

/** Case folders to check: the repository's own always, shared/golden too when it is present. */
export function caseDirs(): string[] {
  const shared = goldenDir();
  return shared ? [exactnessDir(), shared] : [exactnessDir()];
}

export function goldenDir(): string | undefined {
  const fromEnv = process.env.RANKSORT_GOLDEN_DIR;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const beside = join(repo, "..", "shared", "golden");
  return existsSync(beside) ? beside : undefined;
}
