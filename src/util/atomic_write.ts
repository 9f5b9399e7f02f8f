// Files on disk are written atomically: a temporary file beside the target, then a rename.
import { nodeBuiltin } from "./node_builtins.ts";

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const { mkdirSync, renameSync, rmSync, writeFileSync } = nodeBuiltin("node:fs", `writing ${path}`);
  const { basename, dirname, join } = nodeBuiltin("node:path", `writing ${path}`);
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${globalThis.process?.pid ?? 0}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
