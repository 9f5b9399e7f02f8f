// The ONNX protobuf schema (onnx-buf: onnx.proto compiled for @bufbuild/protobuf). Everything else in
// ranksort reaches protobuf through this module.
//
// Why onnx-buf over onnx-proto: onnx-buf tracks current onnx (1.20: FunctionProto with overloads,
// value_info and attribute defaults, newer dtypes) on @bufbuild/protobuf v2, which preserves unknown
// fields and proto2 field presence on a round trip; onnx-proto is onnx 1.10 on protobufjs 6.

export { create, fromBinary, toBinary, clone } from "@bufbuild/protobuf";
export {
  AttributeProto_AttributeType as AttributeType,
  AttributeProtoSchema,
  FunctionProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProto_DataLocation as DataLocation,
  TensorProto_DataType as DataType,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type FunctionProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type OperatorSetIdProto,
  type TensorProto,
  type TypeProto,
  type ValueInfoProto,
} from "onnx-buf";
