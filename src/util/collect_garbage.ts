// A full garbage collection, where the host offers one, for the few moments when a caller knows
// that a large amount of memory just became garbage (a trainer's first step drops the model file's
// bytes and the initial weights: 120 MB for an R18 detector). V8 would free them only at its next
// major collection, which can come after the next step has allocated as much again, so the
// process's peak would carry them.

type GcFunction = () => void;

let cached: GcFunction | null | undefined;

function find(): GcFunction | null {
  const g = globalThis as { gc?: unknown; Bun?: { gc?: (force: boolean) => void }; process?: { getBuiltinModule?: (id: string) => unknown } };
  if (typeof g.Bun?.gc === "function") {
    const bunGc = g.Bun.gc;
    return () => bunGc(true);
  }
  if (typeof g.gc === "function") return g.gc as GcFunction; // node --expose-gc
  // Node (and Deno's node: layer): expose V8's gc to a fresh context, as test runners do. The flag
  // affects contexts created after it only; nothing else in the process changes.
  try {
    const v8 = g.process?.getBuiltinModule?.("node:v8") as { setFlagsFromString?: (flags: string) => void } | undefined;
    const vm = g.process?.getBuiltinModule?.("node:vm") as { runInNewContext?: (code: string) => unknown } | undefined;
    if (!v8?.setFlagsFromString || !vm?.runInNewContext) return null;
    v8.setFlagsFromString("--expose-gc");
    const fn = vm.runInNewContext("gc");
    return typeof fn === "function" ? (fn as GcFunction) : null;
  } catch {
    return null; // a browser, or a host that refuses the flag: memory goes at the host's own pace
  }
}

/** Run a full garbage collection if the host allows it; returns whether one ran. */
export function collectGarbage(): boolean {
  if (cached === undefined) cached = find();
  if (!cached) return false;
  cached();
  return true;
}
