// What a gradient rule sees and returns. One rule per op type; rules live in rules/<family>.ts and
// register themselves in rules/index.ts.

import type { NodeEmitter, Value } from "../onnx/builder.ts";
import type { AttributeProto, NodeProto } from "../onnx/proto.ts";
import type { TensorOps } from "../onnx/tensor_ops.ts";
import type { Dims } from "./static_shape.ts";

export interface GradContext {
  readonly node: NodeProto;
  readonly e: NodeEmitter;
  readonly t: TensorOps;
  /** The node's i-th input / output as a value (name and, where known, dtype). */
  input(i: number): Value;
  output(i: number): Value;
  /** Whether input i needs a gradient (it lies on a path from a parameter to a seeded output). */
  needs(i: number): boolean;
  /** Input i's dims when all are known before running (see static_shape.ts). */
  staticDims(i: number): number[] | undefined;
  /** Input / output i's dims where its rank is known before running (undefined entries: dims not known). */
  inputDims(i: number): Dims | undefined;
  outputDims(i: number): Dims | undefined;
  /** Input i's rank when known before running. */
  rank(i: number): number | undefined;
  attr(name: string): AttributeProto | undefined;
  int(name: string, fallback: number): number;
  ints(name: string, fallback: number[]): number[];
  float(name: string, fallback: number): number;
  string(name: string, fallback: string): string;
}

/**
 * Given the gradients of the node's outputs (undefined where none flows back), return the gradient
 * of each input (undefined for inputs that get none, e.g. shapes and indices).
 */
export type GradRule = (ctx: GradContext, outputGrads: readonly (Value | undefined)[]) => (Value | undefined)[];

export class GradientError extends Error {
  override name = "GradientError";
}
