// Reading and writing ONNX models: exact round trips, external data both ways, clear errors.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "../src/onnx/builder.ts";
import { decodeModel, encodeModel, ModelFormatError, readModel, writeModel } from "../src/onnx/model_io.ts";
import { create, DataLocation, StringStringEntryProtoSchema } from "../src/onnx/proto.ts";
import { mulberry32 } from "../src/util/random.ts";

function convModel() {
  const rand = mulberry32(3);
  const g = new GraphBuilder("conv", { "": 17 });
  const x = g.input("x", "float32", [1, 3, 8, 8]);
  const w1 = g.initializer("w1", "float32", Float32Array.from({ length: 16 * 3 * 9 }, () => rand() - 0.5), [16, 3, 3, 3]);
  const b1 = g.initializer("b1", "float32", Float32Array.from({ length: 16 }, () => rand() - 0.5), [16]);
  const w2 = g.initializer("w2", "float32", Float32Array.from({ length: 4 * 16 }, () => rand() - 0.5), [4, 16, 1, 1]);
  const h = g.op1("Relu", [g.op1("Conv", [x, w1, b1], { pads: [1, 1, 1, 1] })]);
  const up = g.op1("Resize", [g.op1("Conv", [h, w2]), "", g.constant("float32", [1, 1, 2, 2], [4])], { mode: "nearest" });
  g.output(up, "y", "float32", [1, 4, 16, 16]);
  return g.model();
}

async function run(modelOrPath: Uint8Array | string): Promise<Float32Array> {
  const s = typeof modelOrPath === "string" ? await ort.InferenceSession.create(modelOrPath) : await ort.InferenceSession.create(modelOrPath);
  const x = Float32Array.from({ length: 3 * 64 }, (_, i) => Math.sin(i));
  const out = await s.run({ x: new ort.Tensor("float32", x, [1, 3, 8, 8]) });
  return out.y!.data as Float32Array;
}

describe("model IO", () => {
  const dir = mkdtempSync(join(tmpdir(), "ranksort-io-"));

  test("encode → decode → encode is byte-identical, and onnxruntime gives identical outputs", async () => {
    const bytes = encodeModel(convModel());
    const again = encodeModel(decodeModel(bytes));
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
    expect(await run(again)).toEqual(await run(bytes));
  });

  test("decoded, only large weights view the serialized bytes: nodes and small tensors own theirs", async () => {
    // A node's attribute or a tiny constant that viewed the file would keep all of it alive.
    const g = new GraphBuilder("views", { "": 17 });
    const x = g.input("x", "float32", [1, 256]);
    const big = g.initializer("big", "float32", Float32Array.from({ length: 256 * 256 }, (_, i) => Math.sin(i)), [256, 256]);
    const small = g.initializer("small", "float32", new Float32Array(256).fill(0.5), [256]);
    g.output(g.op1("Add", [g.op1("MatMul", [x, big]), g.op1("Mul", [small, g.constant("float32", [2], [1])])]), "y", "float32", [1, 256]);
    const bytes = encodeModel(g.model());
    const m = decodeModel(bytes);
    const init = Object.fromEntries(m.graph!.initializer.map((t) => [t.name, t.rawData]));
    expect(init.big!.buffer).toBe(bytes.buffer as ArrayBuffer);
    expect(init.small!.buffer).not.toBe(bytes.buffer);
    const attributeBytes = m.graph!.node.flatMap((n) => n.attribute.flatMap((a) => [a.s, ...(a.t ? [a.t.rawData] : [])])).filter((b) => b.length);
    expect(attributeBytes.length).toBeGreaterThan(0);
    for (const b of attributeBytes) expect(b.buffer).not.toBe(bytes.buffer);
    // Copies leave the encoding as it was (no field turns present that was absent).
    expect(Buffer.from(encodeModel(m)).equals(Buffer.from(bytes))).toBe(true);
  });

  test("external data: written beside the model, read back inline, same outputs; onnxruntime loads it too", async () => {
    const path = join(dir, "conv.onnx");
    writeModel(path, convModel(), { externalDataThreshold: 256 });
    expect(existsSync(`${path}.data`)).toBe(true);
    const raw = decodeModel(readFileSync(path));
    expect(raw.graph!.initializer.filter((t) => t.dataLocation === DataLocation.EXTERNAL).map((t) => t.name).sort()).toEqual(["w1", "w2"]);
    const loaded = readModel(path);
    expect(loaded.graph!.initializer.every((t) => t.dataLocation !== DataLocation.EXTERNAL)).toBe(true);
    const reference = await run(encodeModel(convModel()));
    expect(await run(encodeModel(loaded))).toEqual(reference);
    expect(await run(path)).toEqual(reference);
    // Re-writing the inlined model with external data again round-trips too.
    const path2 = join(dir, "conv2.onnx");
    writeModel(path2, loaded, { externalDataThreshold: 256 });
    expect(await run(encodeModel(readModel(path2)))).toEqual(reference);
    // No temporary files left behind by the atomic writes.
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  test("clear errors: missing file, corrupt bytes, missing external data, path escape", () => {
    expect(() => readModel(join(dir, "nope.onnx"))).toThrow(/cannot read model .*nope\.onnx/);
    const corrupt = join(dir, "corrupt.onnx");
    writeFileSync(corrupt, new Uint8Array([0x08, 0x07, 0x12, 0xff, 0xff]));
    expect(() => readModel(corrupt)).toThrow(ModelFormatError);
    const path = join(dir, "ext.onnx");
    writeModel(path, convModel(), { externalDataThreshold: 256 });
    rmSync(`${path}.data`);
    expect(() => readModel(path)).toThrow(/external data file .*ext\.onnx\.data for tensor "w1" is missing/);
    const escaping = decodeModel(encodeModel(convModel()));
    const t = escaping.graph!.initializer[0]!;
    t.dataLocation = DataLocation.EXTERNAL;
    t.externalData = [create(StringStringEntryProtoSchema, { key: "location", value: "../../etc/passwd" })];
    const escPath = join(dir, "esc.onnx");
    writeFileSync(escPath, encodeModel(escaping));
    expect(() => readModel(escPath)).toThrow(/points outside the model folder/);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});

const fixtures = resolve(import.meta.dir, "..", "models", "fixtures");
const exported = existsSync(fixtures) ? readdirSync(fixtures).filter((f) => f.endsWith(".onnx")) : [];
describe.skipIf(exported.length === 0)("torchvision exports (models/export_fixtures.py) round-trip", () => {
  for (const file of exported) {
    test(file, async () => {
      const path = join(fixtures, file);
      const model = readModel(path);
      const bytes = encodeModel(model);
      // Decoding and re-encoding loses nothing.
      expect(Buffer.from(encodeModel(decodeModel(bytes))).equals(Buffer.from(bytes))).toBe(true);
      if (!file.includes("external")) expect(Buffer.from(bytes).equals(readFileSync(path))).toBe(true);
      // onnxruntime gives identical outputs for the file (external data resolved by onnxruntime)
      // and for our re-encoded, self-contained model.
      const images = new ort.Tensor("float32", Float32Array.from({ length: 3 * 64 * 64 }, (_, i) => Math.cos(i * 0.01)), [1, 3, 64, 64]);
      const a = await (await ort.InferenceSession.create(path)).run({ images });
      const b = await (await ort.InferenceSession.create(bytes)).run({ images });
      expect(Object.keys(b)).toEqual(Object.keys(a));
      for (const k of Object.keys(a)) expect(b[k]!.data).toEqual(a[k]!.data);
    });
  }
});
