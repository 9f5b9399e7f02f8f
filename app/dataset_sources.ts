// Where a dataset comes from: the bundled sample (static files beside the page), a folder picked
// with webkitdirectory, or a .zip (fflate). Each gives the files under the folder that holds
// annotations.json, by path relative to it; the worker validates them as the CLI does.

import { unzipSync } from "fflate";

export type DatasetFiles = [string, Uint8Array][];

/** The files under the shallowest folder holding annotations.json (paths relative to it). */
function rooted(paths: string[], label: string): { root: string; keep: (p: string) => string | undefined } {
  const annotations = paths.filter((p) => p === "annotations.json" || p.endsWith("/annotations.json")).sort((a, b) => a.split("/").length - b.split("/").length)[0];
  if (!annotations) throw new Error(`${label} has no annotations.json (a COCO dataset is annotations.json plus images/)`);
  const root = annotations.slice(0, annotations.length - "annotations.json".length);
  return { root, keep: (p) => (p.startsWith(root) && !p.endsWith("/") ? p.slice(root.length) : undefined) };
}

export async function sampleDataset(base: string): Promise<DatasetFiles> {
  const res = await fetch(new URL("files.json", base));
  if (!res.ok) throw new Error(`the bundled sample dataset is missing (${res.status} for ${res.url})`);
  const files: string[] = await res.json();
  return Promise.all(files.map(async (f): Promise<[string, Uint8Array]> => {
    const r = await fetch(new URL(f, base));
    if (!r.ok) throw new Error(`the bundled sample's ${f} is missing (${r.status})`);
    return [f, new Uint8Array(await r.arrayBuffer())];
  }));
}

export async function folderDataset(list: FileList): Promise<DatasetFiles> {
  const files = [...list];
  if (!files.length) throw new Error("the chosen folder is empty");
  const label = `folder ${files[0]!.webkitRelativePath.split("/")[0]}`;
  const { keep } = rooted(files.map((f) => f.webkitRelativePath || f.name), label);
  const out: DatasetFiles = [];
  for (const f of files) {
    const rel = keep(f.webkitRelativePath || f.name);
    if (rel !== undefined) out.push([rel, new Uint8Array(await f.arrayBuffer())]);
  }
  return out;
}

export async function zipDataset(file: File): Promise<DatasetFiles> {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(new Uint8Array(await file.arrayBuffer()));
  } catch (e) {
    throw new Error(`${file.name} is not a readable .zip (${(e as Error).message})`);
  }
  const { keep } = rooted(Object.keys(entries), file.name);
  return Object.entries(entries).flatMap(([p, bytes]): [string, Uint8Array][] => {
    const rel = keep(p);
    return rel === undefined ? [] : [[rel, bytes]];
  });
}
