// Wall-clock timing helpers for the demo and benchmarks.

export function nowMs(): number {
  return performance.now();
}

/**
 * Median wall time (ms) of `runs` calls of fn, after `warmup` untimed calls (the JIT needs a few to
 * reach its top tier); returns the last result too.
 */
export function timeMedian<T>(fn: () => T, runs = 3, warmup = 3): { ms: number; result: T } {
  let result = fn();
  for (let i = 1; i < warmup; i++) result = fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    result = fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, result };
}
