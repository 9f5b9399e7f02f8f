// Encoding and decoding ONNX models in memory (no file system: usable in browsers too).

import { fromBinary, type GraphProto, type ModelProto, ModelProtoSchema, type TensorProto, toBinary } from "./proto.ts";

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
  return model;
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
