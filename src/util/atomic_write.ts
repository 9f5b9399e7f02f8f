// Files on disk are written atomically: a temporary file beside the target, then a rename. With
// `durable`, the file's data and then its directory entry are flushed (fsync) before returning, so
// a power cut or kill -9 after the call can never leave the old name pointing at torn data.
// Node built-ins are fetched when called, so browser bundles that reach this module still build.
import { nodeBuiltin } from "./node_builtins.ts";

const fs = (purpose: string) => nodeBuiltin("node:fs", purpose);
const path_ = (purpose: string) => nodeBuiltin("node:path", purpose);

/** A file could not be written: the path and the operating system's reason, one line. */
export class FileWriteError extends Error {
  override name = "FileWriteError";
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    reason: string,
  ) {
    super(`cannot write ${path}: ${reason}`);
  }
}

const REASONS: Record<string, string> = {
  ENOSPC: "no space left on the device (ENOSPC)",
  EDQUOT: "disk quota exceeded (EDQUOT)",
  EROFS: "the file system is read-only (EROFS)",
  EACCES: "permission denied (EACCES)",
  EPERM: "operation not permitted (EPERM)",
  ENOTDIR: "a part of the path is a file, not a folder (ENOTDIR)",
  EEXIST: "a part of the path is a file, not a folder (EEXIST)",
  EISDIR: "the path is a folder (EISDIR)",
  ENAMETOOLONG: "the name is too long (ENAMETOOLONG)",
};

export function fileWriteError(path: string, e: unknown): FileWriteError {
  const code = (e as { code?: string }).code;
  return new FileWriteError(path, code, (code && REASONS[code]) ?? (e as Error).message);
}

/** Temporary files that writeFileAtomic leaves behind when a process dies mid-write. */
export const TEMP_FILE = /^\..+\.\d+\.\d+\.tmp$/;

/** A file's content: text, bytes, or bytes in consecutive chunks (written one after another, never joined). */
export type FileContent = string | Uint8Array | readonly Uint8Array[];

export function writeFileAtomic(path: string, data: FileContent, options: { durable?: boolean } = {}): void {
  const { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } = fs(`writing ${path}`);
  const { basename, dirname, join } = path_(`writing ${path}`);
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw fileWriteError(path, e);
  }
  const tmp = join(dir, `.${basename(path)}.${globalThis.process?.pid ?? 0}.${Date.now()}.tmp`);
  try {
    const fd = openSync(tmp, "w");
    try {
      const chunks = typeof data === "string" ? [new TextEncoder().encode(data)] : data instanceof Uint8Array ? [data] : data;
      for (const bytes of chunks) for (let off = 0; off < bytes.byteLength; ) off += writeSync(fd, bytes, off, bytes.byteLength - off);
      if (options.durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    // The write's error is the one to report; a failing cleanup (read-only, gone) must not mask it.
    try {
      rmSync(tmp, { force: true });
    } catch {
      // nothing more to do
    }
    throw fileWriteError(path, e);
  }
  if (options.durable) syncDirectory(dir);
}

/** Flush a folder's entries (renames, creations, removals) to disk. */
export function syncDirectory(dir: string): void {
  const { closeSync, fsyncSync, openSync } = fs(`syncing ${dir}`);
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Remove temporary files of interrupted writes in `dir`; returns their names. */
export function removeStaleTempFiles(dir: string): string[] {
  const { readdirSync, rmSync } = fs(`cleaning ${dir}`);
  const { join } = path_(`cleaning ${dir}`);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const stale = names.filter((n) => TEMP_FILE.test(n));
  for (const n of stale) rmSync(join(dir, n), { force: true });
  return stale;
}
