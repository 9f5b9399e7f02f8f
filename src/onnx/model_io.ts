// Reading and writing ONNX models, external-data files included. Writes are atomic.

import { existsSync, openSync, readFileSync, readSync, closeSync, fstatSync } from "node:fs";
import { basename, dirname, isAbsolute, join, normalize } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { decodeModel, encodeModel, graphTensors, ModelFormatError } from "./model_codec.ts";
import { clone, create, DataLocation, type ModelProto, ModelProtoSchema, StringStringEntryProtoSchema, type TensorProto } from "./proto.ts";

export { decodeModel, encodeModel, graphTensors, ModelFormatError };

function externalField(t: TensorProto, key: string): string | undefined {
  return t.externalData.find((e) => e.key === key)?.value;
}

/**
 * Read a model file. Tensors stored in external-data files (paths relative to the model's folder)
 * are loaded into raw_data, so the returned model is self-contained.
 */
export function readModel(path: string): ModelProto {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ModelFormatError(`cannot read model ${path}: ${(e as Error).message}`);
  }
  const model = decodeModel(bytes, path);
  loadExternalData(model, dirname(path), path);
  return model;
}

/** Load every external tensor of `model` from files under `baseDir`. */
export function loadExternalData(model: ModelProto, baseDir: string, label = "model"): void {
  const handles = new Map<string, number>();
  try {
    for (const t of graphTensors(model.graph!)) {
      if (t.dataLocation !== DataLocation.EXTERNAL) continue;
      const location = externalField(t, "location");
      if (!location) throw new ModelFormatError(`${label}: tensor "${t.name}" is external but has no location`);
      if (isAbsolute(location) || normalize(location).startsWith("..")) {
        throw new ModelFormatError(`${label}: tensor "${t.name}" points outside the model folder (${location})`);
      }
      const file = join(baseDir, location);
      if (!existsSync(file)) throw new ModelFormatError(`${label}: external data file ${file} for tensor "${t.name}" is missing`);
      let fd = handles.get(file);
      if (fd === undefined) handles.set(file, (fd = openSync(file, "r")));
      const offset = Number(externalField(t, "offset") ?? 0);
      const size = fstatSync(fd).size;
      const length = externalField(t, "length") !== undefined ? Number(externalField(t, "length")) : size - offset;
      if (!(offset >= 0 && length >= 0 && offset + length <= size)) {
        throw new ModelFormatError(`${label}: tensor "${t.name}" wants bytes [${offset}, ${offset + length}) of ${file}, which has ${size}`);
      }
      const data = new Uint8Array(length);
      if (readSync(fd, data, 0, length, offset) !== length) throw new ModelFormatError(`${label}: short read of ${file}`);
      t.rawData = data;
      t.externalData = [];
      t.dataLocation = DataLocation.DEFAULT;
    }
  } finally {
    for (const fd of handles.values()) closeSync(fd);
  }
}

export interface WriteModelOptions {
  /**
   * Store tensors of at least this many bytes in one external-data file beside the model, named
   * `<model file>.data` (what onnx's save_model does). Default: everything inside the model.
   */
  externalDataThreshold?: number;
}

/** Write a model atomically (and its external-data file, when asked for, before it). */
export function writeModel(path: string, model: ModelProto, opts: WriteModelOptions = {}): void {
  const threshold = opts.externalDataThreshold;
  if (threshold === undefined) {
    writeFileAtomic(path, encodeModel(model));
    return;
  }
  const out = clone(ModelProtoSchema, model);
  const location = `${basename(path)}.data`;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of graphTensors(out.graph!)) {
    if (t.dataLocation === DataLocation.EXTERNAL || t.rawData.length < threshold) continue;
    const data = t.rawData;
    const entry = (key: string, value: string) => create(StringStringEntryProtoSchema, { key, value });
    t.externalData = [entry("location", location), entry("offset", String(offset)), entry("length", String(data.length))];
    t.dataLocation = DataLocation.EXTERNAL;
    t.rawData = new Uint8Array(0);
    chunks.push(data);
    offset += data.length;
    // onnx aligns external chunks to 4 KiB pages so they can be memory-mapped; do the same.
    const pad = (4096 - (offset % 4096)) % 4096;
    if (pad) {
      chunks.push(new Uint8Array(pad));
      offset += pad;
    }
  }
  const blob = new Uint8Array(offset);
  let at = 0;
  for (const c of chunks) {
    blob.set(c, at);
    at += c.length;
  }
  writeFileAtomic(join(dirname(path), location), blob);
  writeFileAtomic(path, encodeModel(out));
}
