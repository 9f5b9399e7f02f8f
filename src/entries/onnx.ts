/**
 * `ranksort/onnx`: ONNX models as data — reading and writing files (external data included, atomic
 * writes), a typed graph and function builder, the validator, the com.ranksort function bodies, and
 * reverse-mode gradient graphs. Reading and writing files needs Node, Bun or Deno.
 *
 * @packageDocumentation
 */
export { decodeModel, encodeModel, graphTensors, loadExternalData, ModelFormatError, readModel, writeModel, type WriteModelOptions } from "../onnx/model_io.ts";
export { attribute, DTYPE_CODE, dtypeName, float, floats, FunctionBuilder, GraphBuilder, NameAllocator, NodeEmitter, ref, tensorProto, valueInfo, type AttrValue, type DTypeName, type FunctionAttribute, type OpOptions, type Value } from "../onnx/builder.ts";
export { TensorOps } from "../onnx/tensor_ops.ts";
export { assertValidModel, ModelValidationError, validateModel, type ValidationIssue } from "../onnx/validate.ts";
export { BODY_OPSET, DOMAIN, DOMAIN_VERSION, OPS, type OpName, type OpSignature } from "../ops/domain.ts";
export { functionsFor, opFunction, withFunctionBodies } from "../ops/library.ts";
export { standaloneLossModel, type LossOpName, type StandaloneOptions } from "../ops/standalone_model.ts";
export { buildGradientModel, type GradientModel, type GradientOptions } from "../autodiff/gradient_graph.ts";
export { GradientError } from "../autodiff/rule.ts";
export type { AttributeProto, FunctionProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from "../onnx/proto.ts";
