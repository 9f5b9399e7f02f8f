// Node built-ins fetched when called (process.getBuiltinModule: Node >= 20.16, Bun, Deno) rather than
// imported, so modules that browser bundles reach name no `node:` module; in a page the call fails
// with a one-line error instead of a bundler polyfill failing somewhere later.

type Builtins = { "node:fs": typeof import("node:fs"); "node:path": typeof import("node:path"); "node:module": typeof import("node:module"); "node:crypto": typeof import("node:crypto"); "node:os": typeof import("node:os") };

export function nodeBuiltin<K extends keyof Builtins>(id: K, purpose: string): Builtins[K] {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  const mod = get?.(id) as Builtins[K] | undefined;
  if (!mod) throw new Error(`${purpose} needs ${id}, which this host does not provide (Node >= 20.16, Bun or Deno)`);
  return mod;
}
