// Every damaged checkpoint is a CheckpointError naming what is wrong (one row per damage), and a
// good one round-trips; the atomic writer reports the write's error, never its cleanup's.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CheckpointError, checkpointChunks, encodeCheckpoint, readCheckpoint, writeCheckpoint } from "../../src/train/checkpoint.ts";
import { FileWriteError, writeFileAtomic } from "../../src/util/atomic_write.ts";

const dir = mkdtempSync(join(tmpdir(), "ranksort-ckpt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const good = encodeCheckpoint({ step: 12, config: { run: { batch: 4 } }, tensors: { w: { type: "float32", data: Float32Array.from([1, 2, 3, 4]), dims: [2, 2] } } });
const headerLength = new DataView(good.buffer).getUint32(8, true);
/** The good checkpoint with its JSON header edited. */
function withHeader(edit: (h: Record<string, unknown>) => void): Uint8Array {
  const h = JSON.parse(new TextDecoder().decode(good.subarray(12, 12 + headerLength)));
  edit(h);
  const bytes = new TextEncoder().encode(JSON.stringify(h));
  const out = new Uint8Array(12 + bytes.length + good.length - 12 - headerLength);
  out.set(good.subarray(0, 8));
  new DataView(out.buffer).setUint32(8, bytes.length, true);
  out.set(bytes, 12);
  out.set(good.subarray(12 + headerLength), 12 + bytes.length);
  return out;
}

describe("checkpoints", () => {
  test("round trip", () => {
    const path = join(dir, "good.bin");
    writeFileSync(path, good);
    const c = readCheckpoint(path);
    expect(c.step).toBe(12);
    expect(Array.from(c.tensors.w!.data as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(c.tensors.w!.dims).toEqual([2, 2]);
  });

  test("written in chunks that view the tensors: the same bytes as the joined encoding, no copy of the data", () => {
    // Three bytes of int8 then float32: the first tensor needs padding before the second.
    const small = { type: "int8" as const, data: Int8Array.from([1, -2, 3]), dims: [3] };
    const big = { type: "float32" as const, data: Float32Array.from({ length: 1000 }, (_, i) => i / 7), dims: [10, 100] };
    const ckpt = { step: 3, config: { lr: 0.1 }, tensors: { small, big } };
    const chunks = checkpointChunks(ckpt);
    expect(chunks.some((c) => c.buffer === big.data.buffer && c.byteLength === big.data.byteLength)).toBe(true);
    const joined = encodeCheckpoint(ckpt);
    const path = join(dir, "chunked.bin");
    writeCheckpoint(path, ckpt);
    expect(Buffer.compare(readFileSync(path), joined)).toBe(0);
    const back = readCheckpoint(path);
    expect(Array.from(back.tensors.small!.data as Int8Array)).toEqual([1, -2, 3]);
    expect(Array.from(back.tensors.big!.data as Float32Array)).toEqual(Array.from(big.data));
  });

  const flipped = new Uint8Array(good);
  flipped[flipped.length - 3]! ^= 1;
  const rows: [string, Uint8Array, RegExp][] = [
    ["empty", new Uint8Array(0), /is empty/],
    ["random bytes", Uint8Array.from({ length: 300 }, (_, i) => (i * 97 + 13) & 255), /not a ranksort checkpoint \(bad magic\)/],
    ["truncated header", good.subarray(0, 40), /truncated header/],
    ["truncated data", good.subarray(0, good.length - 4), /checksum mismatch/],
    ["one flipped data bit", flipped, /checksum mismatch \(the tensor data is damaged or truncated\)/],
    ["header not JSON", (() => { const b = new Uint8Array(good); b[12] = 0x7b; b[13] = 0x7b; return b; })(), /corrupt header \(not JSON\)/],
    ["step negative", withHeader((h) => (h.step = -12)), /field "step" must be an integer >= 0, got -12/],
    ["step a word", withHeader((h) => (h.step = "twelve")), /field "step" must be an integer >= 0, got "twelve"/],
    ["step fractional", withHeader((h) => (h.step = 1.5)), /field "step" must be an integer >= 0, got 1.5/],
    ["unknown version", withHeader((h) => (h.version = 3)), /checkpoint version 3; this ranksort reads versions 1 and 2/],
    ["no checksum", withHeader((h) => delete h.sha256), /field "sha256" is missing/],
    ["dims disagree with length", withHeader((h) => ((h.tensors as Record<string, { dims: number[] }>).w!.dims = [3, 2])), /tensor "w" holds 16 bytes, its dims \[3, 2\] need 24/],
    ["unknown dtype", withHeader((h) => ((h.tensors as Record<string, { dtype: string }>).w!.dtype = "complex")), /tensor "w" has unknown dtype "complex"/],
    ["tensors not an object", withHeader((h) => (h.tensors = 5)), /field "tensors" must be an object/],
  ];
  for (const [name, bytes, message] of rows) {
    test(name, () => {
      const path = join(dir, `${name.replaceAll(" ", "-")}.bin`);
      writeFileSync(path, bytes);
      expect(() => readCheckpoint(path)).toThrow(CheckpointError);
      expect(() => readCheckpoint(path)).toThrow(message);
    });
  }

  test("a step that is not a non-negative integer is never written", () => {
    expect(() => writeCheckpoint(join(dir, "x.bin"), { step: -1, config: {}, tensors: {} })).toThrow(/step must be an integer >= 0/);
  });
});

describe("atomic writes", () => {
  test("the write's own error, with the path, and no temporary file left", () => {
    mkdirSync(join(dir, "target-is-a-folder"));
    const attempt = () => writeFileAtomic(join(dir, "target-is-a-folder"), "x", { durable: true });
    expect(attempt).toThrow(FileWriteError);
    expect(attempt).toThrow(/^cannot write .*target-is-a-folder: /);
    writeFileSync(join(dir, "plain-file"), "x");
    expect(() => writeFileAtomic(join(dir, "plain-file", "below"), "x")).toThrow(/cannot write .*plain-file\/below: a part of the path is a file, not a folder/);
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    writeFileAtomic(join(dir, "ok.txt"), "hello", { durable: true });
    expect(readFileSync(join(dir, "ok.txt"), "utf8")).toBe("hello");
  });
});
