// Checkpoint files: weights, optimizer state, step and config in one file, written atomically.
//
// Format (version 1, little-endian):
//   bytes 0..7   ASCII "RSCKPT01"
//   bytes 8..11  uint32 length H of the JSON header
//   H bytes      UTF-8 JSON: { "format": "ranksort-checkpoint", "version": 1, "step": n,
//                 "config": {...}, "tensors": { name: { "dtype", "dims", "offset", "length" } } }
//   then         the tensors' raw data; offsets count from the end of the header, 8-byte aligned.

import { writeFileAtomic } from "../util/atomic_write.ts";
import { nodeBuiltin } from "../util/node_builtins.ts";
import type { HostTensor } from "../runtime/host_tensor.ts";

const MAGIC = "RSCKPT01";

export class CheckpointError extends Error {
  override name = "CheckpointError";
}

export interface Checkpoint {
  step: number;
  config: Record<string, unknown>;
  tensors: Record<string, HostTensor>;
}

/** Write a checkpoint (weights, optimizer state, step, config) atomically. */
export function writeCheckpoint(path: string, ckpt: Checkpoint): void {
  const entries: Record<string, { dtype: string; dims: readonly number[]; offset: number; length: number }> = {};
  let offset = 0;
  for (const [name, t] of Object.entries(ckpt.tensors)) {
    entries[name] = { dtype: t.type, dims: t.dims, offset, length: t.data.byteLength };
    offset += Math.ceil(t.data.byteLength / 8) * 8;
  }
  const header = new TextEncoder().encode(JSON.stringify({ format: "ranksort-checkpoint", version: 1, step: ckpt.step, config: ckpt.config, tensors: entries }));
  const out = new Uint8Array(12 + header.length + offset);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, header.length, true);
  out.set(header, 12);
  for (const [name, t] of Object.entries(ckpt.tensors)) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), 12 + header.length + entries[name]!.offset);
  }
  writeFileAtomic(path, out);
}

const ARRAYS = { float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array, int8: Int8Array, bool: Uint8Array } as const;

/** Read a checkpoint written by writeCheckpoint; a CheckpointError names what is wrong. */
export function readCheckpoint(path: string): Checkpoint {
  let bytes: Uint8Array;
  try {
    bytes = nodeBuiltin("node:fs", `reading checkpoint ${path}`).readFileSync(path);
  } catch (e) {
    throw new CheckpointError(`cannot read checkpoint ${path}: ${(e as Error).message}`);
  }
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw new CheckpointError(`${path} is not a ranksort checkpoint (bad magic)`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  if (12 + headerLength > bytes.length) throw new CheckpointError(`${path}: truncated header`);
  let header: { version: number; step: number; config: Record<string, unknown>; tensors: Record<string, { dtype: keyof typeof ARRAYS; dims: number[]; offset: number; length: number }> };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  } catch {
    throw new CheckpointError(`${path}: corrupt header`);
  }
  if (header.version !== 1) throw new CheckpointError(`${path}: checkpoint version ${header.version}; this ranksort reads version 1`);
  const base = 12 + headerLength;
  const tensors: Record<string, HostTensor> = {};
  for (const [name, e] of Object.entries(header.tensors)) {
    const Ctor = ARRAYS[e.dtype];
    if (!Ctor) throw new CheckpointError(`${path}: tensor "${name}" has unknown dtype ${e.dtype}`);
    if (base + e.offset + e.length > bytes.length) throw new CheckpointError(`${path}: tensor "${name}" runs past the end of the file (truncated?)`);
    const copy = new Uint8Array(bytes.subarray(base + e.offset, base + e.offset + e.length)); // a copy: Buffer.slice would share the pool
    tensors[name] = { type: e.dtype, data: new Ctor(copy.buffer) as HostTensor["data"], dims: e.dims };
  }
  return { step: header.step, config: header.config, tensors };
}
