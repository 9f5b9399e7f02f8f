// Files held in memory under virtual paths — a browser page's picked folder or zip, the bundled
// sample fetched over HTTP. The dataset and image readers look here before the file system, so a
// page gets the same validation, decoding and one-line errors as the CLI without a second reader.

const files = new Map<string, Uint8Array>();

/** Hold `entries` (path → bytes) in memory; readImage / loadCoco read them as if they were files. */
export function putMemoryFiles(entries: Iterable<[string, Uint8Array]>): void {
  for (const [path, bytes] of entries) files.set(path, bytes);
}

/** Forget the memory files under `prefix` (all of them without one). */
export function clearMemoryFiles(prefix = ""): void {
  for (const path of [...files.keys()]) if (path.startsWith(prefix)) files.delete(path);
}

/** The bytes held for `path`, if any. */
export function memoryFile(path: string): Uint8Array | undefined {
  return files.get(path);
}
