// Checkpoint files: weights, optimizer state, step and config in one file, written atomically and
// durably (fsync of the file and its folder), with a checksum of the tensor data.
//
// Format (little-endian):
//   bytes 0..7   ASCII "RSCKPT01"
//   bytes 8..11  uint32 length H of the JSON header
//   H bytes      UTF-8 JSON: { "format": "ranksort-checkpoint", "version": 2, "step": n,
//                 "config": {...}, "sha256": hex of the data section,
//                 "tensors": { name: { "dtype", "dims", "offset", "length" } } }
//   then         the tensors' raw data; offsets count from the end of the header, 8-byte aligned.
// Version 1 is version 2 without "sha256"; it is still read (nothing to verify).

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
  writeFileAtomic(path, checkpointChunks(ckpt), { durable: true });
}

const PADDING = new Uint8Array(8);

/**
 * The checkpoint file as consecutive byte chunks: magic, header length and header, then each
 * tensor's own bytes (a view, not a copy) and its zero padding to 8 bytes. Written chunk by chunk,
 * a checkpoint costs no memory beyond the tensors (a ResNet-50 detector's weights and momentum:
 * 258 MB that one joined buffer would add, twice while it was being built).
 */
export function checkpointChunks(ckpt: Checkpoint): Uint8Array[] {
  if (!Number.isSafeInteger(ckpt.step) || ckpt.step < 0) throw new CheckpointError(`checkpoint step must be an integer >= 0, got ${ckpt.step}`);
  const entries: Record<string, { dtype: string; dims: readonly number[]; offset: number; length: number }> = {};
  const data: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(ckpt.tensors)) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    entries[name] = { dtype: t.type, dims: t.dims, offset, length: bytes.byteLength };
    const padded = Math.ceil(bytes.byteLength / 8) * 8;
    data.push(bytes);
    if (padded > bytes.byteLength) data.push(PADDING.subarray(0, padded - bytes.byteLength));
    offset += padded;
  }
  const hash = nodeBuiltin("node:crypto", "checkpoint checksums").createHash("sha256");
  for (const chunk of data) hash.update(chunk);
  const header = new TextEncoder().encode(JSON.stringify({ format: "ranksort-checkpoint", version: 2, step: ckpt.step, config: ckpt.config, sha256: hash.digest("hex"), tensors: entries }));
  const prefix = new Uint8Array(12 + header.length);
  prefix.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(prefix.buffer).setUint32(8, header.length, true);
  prefix.set(header, 12);
  return [prefix, ...data];
}

/** The checkpoint file's bytes in one buffer (`checkpointChunks` joined). */
export function encodeCheckpoint(ckpt: Checkpoint): Uint8Array {
  const chunks = checkpointChunks(ckpt);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

const ARRAYS = { float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array, int8: Int8Array, bool: Uint8Array } as const;

type Header = { version: unknown; step: unknown; config: unknown; sha256?: unknown; tensors: unknown };

/** Read a checkpoint written by writeCheckpoint; a CheckpointError names what is wrong. */
export function readCheckpoint(path: string): Checkpoint {
  let bytes: Uint8Array;
  try {
    bytes = nodeBuiltin("node:fs", `reading checkpoint ${path}`).readFileSync(path);
  } catch (e) {
    throw new CheckpointError(`cannot read checkpoint ${path}: ${(e as Error).message}`);
  }
  if (bytes.length === 0) throw new CheckpointError(`${path} is empty (not a ranksort checkpoint)`);
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw new CheckpointError(`${path} is not a ranksort checkpoint (bad magic)`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  if (12 + headerLength > bytes.length) throw new CheckpointError(`${path}: truncated header (${headerLength} bytes announced, ${bytes.length - 12} present)`);
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(12, 12 + headerLength)));
  } catch {
    throw new CheckpointError(`${path}: corrupt header (not JSON)`);
  }
  if (typeof header !== "object" || header === null) throw new CheckpointError(`${path}: corrupt header (not an object)`);
  if (header.version !== 1 && header.version !== 2) throw new CheckpointError(`${path}: checkpoint version ${JSON.stringify(header.version)}; this ranksort reads versions 1 and 2`);
  if (typeof header.step !== "number" || !Number.isSafeInteger(header.step) || header.step < 0) throw new CheckpointError(`${path}: field "step" must be an integer >= 0, got ${JSON.stringify(header.step)}`);
  if (typeof header.config !== "object" || header.config === null || Array.isArray(header.config)) throw new CheckpointError(`${path}: field "config" must be an object`);
  if (typeof header.tensors !== "object" || header.tensors === null || Array.isArray(header.tensors)) throw new CheckpointError(`${path}: field "tensors" must be an object`);
  const base = 12 + headerLength;
  if (header.version === 2) {
    if (typeof header.sha256 !== "string") throw new CheckpointError(`${path}: field "sha256" is missing`);
    const actual = nodeBuiltin("node:crypto", "checkpoint checksums").createHash("sha256").update(bytes.subarray(base)).digest("hex");
    if (actual !== header.sha256) throw new CheckpointError(`${path}: checksum mismatch (the tensor data is damaged or truncated)`);
  }
  const tensors: Record<string, HostTensor> = {};
  for (const [name, e] of Object.entries(header.tensors as Record<string, { dtype: keyof typeof ARRAYS; dims: unknown; offset: unknown; length: unknown }>)) {
    const Ctor = ARRAYS[e?.dtype];
    if (!Ctor) throw new CheckpointError(`${path}: tensor "${name}" has unknown dtype ${JSON.stringify(e?.dtype)}`);
    const dims = e.dims;
    if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new CheckpointError(`${path}: tensor "${name}" has bad dims ${JSON.stringify(dims)}`);
    const { offset, length } = e;
    if (typeof offset !== "number" || typeof length !== "number" || !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || offset % 8 !== 0) {
      throw new CheckpointError(`${path}: tensor "${name}" has a bad offset/length`);
    }
    if (length !== (dims as number[]).reduce((a, b) => a * b, 1) * Ctor.BYTES_PER_ELEMENT) throw new CheckpointError(`${path}: tensor "${name}" holds ${length} bytes, its dims [${dims.join(", ")}] need ${(dims as number[]).reduce((a, b) => a * b, 1) * Ctor.BYTES_PER_ELEMENT}`);
    if (base + offset + length > bytes.length) throw new CheckpointError(`${path}: tensor "${name}" runs past the end of the file (truncated?)`);
    const copy = new Uint8Array(bytes.subarray(base + offset, base + offset + length)); // a copy: Buffer.slice would share the pool
    tensors[name] = { type: e.dtype, data: new Ctor(copy.buffer) as HostTensor["data"], dims: dims as number[] };
  }
  return { step: header.step, config: header.config as Record<string, unknown>, tensors };
}
