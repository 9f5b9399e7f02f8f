// Encoding and decoding ONNX models in memory (no file system: usable in browsers too).

import { type AttributeProto, fromBinary, type GraphProto, type ModelProto, ModelProtoSchema, type NodeProto, type TensorProto, toBinary } from "./proto.ts";

export class ModelFormatError extends Error {
  override name = "ModelFormatError";
}

/** Decode a serialized ModelProto; `label` names the source in errors. */
export function decodeModel(bytes: Uint8Array, label = "<bytes>"): ModelProto {
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, bytes);
  } catch (e) {
    throw new ModelFormatError(`${label}: not a valid ONNX model (protobuf decoding failed: ${(e as Error).message})`);
  }
  if (!model.graph) throw new ModelFormatError(`${label}: the ModelProto has no graph (is this an ONNX model file?)`);
  if (model.irVersion === 0n) throw new ModelFormatError(`${label}: ir_version is missing; not an ONNX model`);
  ownSmallBytes(model, bytes.buffer);
  return model;
}

/** Bytes fields below this size get their own memory when decoded; larger tensor data stays a view. */
const VIEW_MIN_BYTES = 1 << 16;

/**
 * Decoded bytes fields are views into the serialized model (protobuf-es reads them by subarray): the
 * weights' raw data saves a copy that way, but a node's string attribute or a 4-byte constant would
 * also keep the whole file alive as long as the graph's structure lives. Small fields get their own
 * bytes, so the file's memory goes once the large tensors that view it do (the trainer lets go of
 * the trained weights' after their first step).
 */
function ownSmallBytes(model: ModelProto, file: ArrayBufferLike): void {
  // Assigned only where copied: ONNX is proto2, and an assigned field counts as present.
  const isView = (b: Uint8Array) => b.buffer === file && b.byteLength < VIEW_MIN_BYTES;
  const own = (b: Uint8Array<ArrayBuffer>) => (isView(b) ? new Uint8Array(b) : b);
  const tensor = (t: TensorProto) => {
    if (isView(t.rawData)) t.rawData = own(t.rawData);
    if (t.stringData.some(isView)) t.stringData = t.stringData.map(own);
  };
  const attribute = (a: AttributeProto) => {
    if (isView(a.s)) a.s = own(a.s);
    if (a.strings.some(isView)) a.strings = a.strings.map(own);
    if (a.t) tensor(a.t);
    a.tensors.forEach(tensor);
    if (a.g) graph(a.g);
    a.graphs.forEach(graph);
  };
  const nodes = (ns: readonly NodeProto[]) => ns.forEach((n) => n.attribute.forEach(attribute));
  const graph = (g: GraphProto) => {
    g.initializer.forEach(tensor);
    for (const s of g.sparseInitializer) [s.values, s.indices].forEach((t) => t && tensor(t));
    nodes(g.node);
  };
  graph(model.graph!);
  for (const f of model.functions) nodes(f.node);
}

/** A ModelProto's protobuf bytes. */
export function encodeModel(model: ModelProto): Uint8Array {
  return toBinary(ModelProtoSchema, model);
}

/** Every TensorProto held by a graph: initializers, and tensors in attributes of nodes and subgraphs. */
export function* graphTensors(graph: GraphProto): Generator<TensorProto> {
  yield* graph.initializer;
  for (const s of graph.sparseInitializer) {
    if (s.values) yield s.values;
    if (s.indices) yield s.indices;
  }
  for (const node of graph.node) {
    for (const attr of node.attribute) {
      if (attr.t) yield attr.t;
      yield* attr.tensors;
      if (attr.g) yield* graphTensors(attr.g);
      for (const g of attr.graphs) yield* graphTensors(g);
    }
  }
}
