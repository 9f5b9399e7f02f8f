// Reducing a broadcast gradient back to an operand's shape, with shapes known only at run time.

import { tensorProto, type Value } from "../onnx/builder.ts";
import type { TensorOps } from "../onnx/tensor_ops.ts";

/** Sum `g` over the axes along which `like` was broadcast, and reshape to `like`'s shape. */
export function sumToShapeOf(t: TensorOps, g: Value, like: Value): Value {
  const gShape = t.shape(g);
  const xShape = t.shape(like);
  const lead = t.sub(t.shape(gShape), t.shape(xShape));
  const ones = t.e.op1("ConstantOfShape", [lead], { value: { kind: "tensor", value: oneInt64() } }, { dtype: "int64" });
  const padded = t.concat([ones, xShape]);
  const axes = t.nonzero1d(t.not(t.equal(padded, gShape)));
  const summed = t.e.op1("ReduceSum", [g, axes], { keepdims: 1, noop_with_empty_axes: 1 }, { dtype: g.dtype });
  return t.reshape(summed, xShape);
}

function oneInt64() {
  return tensorProto("one", "int64", [1], [1]);
}
