// "Did you mean …?" for mistyped commands and flags: the nearest known name by edit distance.

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The closest candidate within a third of the word's length (at least 2 edits), or a prefix match. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(word) && word.length >= 2 ? 0.5 : editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** The `--flag` names a command's usage text mentions. */
export function flagsIn(usage: string): string[] {
  return [...new Set(usage.match(/--[a-z][a-z0-9-]*/g) ?? [])];
}

/**
 * A parseArgs "unknown option" error, reworded with the nearest flag of the command's usage; other
 * errors come back unchanged.
 */
export function withFlagSuggestion(e: unknown, usage: string): unknown {
  if ((e as { code?: string })?.code !== "ERR_PARSE_ARGS_UNKNOWN_OPTION") return e;
  const flag = /'(-{1,2}[^']+)'/.exec((e as Error).message)?.[1];
  if (!flag) return e;
  const guess = closest(flag.replace(/=.*/, ""), flagsIn(usage));
  const err = new Error(`unknown option ${flag}${guess ? ` (did you mean ${guess}?)` : ""}; see --help`);
  (err as { code?: string }).code = "ERR_PARSE_ARGS_UNKNOWN_OPTION";
  return err;
}
