// One clear line for anything that went wrong, for the page's error banner.

export function describeError(e: unknown): string {
  const raw = e instanceof Error ? e.message : String(e);
  const first = raw.split("\n")[0]!.trim().slice(0, 400);
  if (/out of memory|OutOfMemory|GPUOutOfMemoryError/i.test(raw)) return `the GPU ran out of memory (${first}); lower the batch size or choose WASM`;
  if (/device (was )?lost/i.test(raw)) return `the GPU device was lost (${first}); reload the tab to resume from the last checkpoint`;
  if (/QuotaExceeded/i.test(raw)) return "the browser's storage is full: the checkpoint could not be saved; free some space (or discard old runs) and resume";
  return first || "unknown error";
}
