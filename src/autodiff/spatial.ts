// Spatial cropping shared by the convolution and pooling gradients.

import type { Value } from "../onnx/builder.ts";
import type { TensorOps } from "../onnx/tensor_ops.ts";

/** x's spatial dims [begin, begin + size(like)), zero-padding x's end first where it is short. */
export function cutTo(t: TensorOps, x: Value, like: Value, begin: number[]): Value {
  const n = begin.length;
  const axes = Array.from({ length: n }, (_, i) => i + 2);
  const spatialOf = (v: Value) => t.slice(t.shape(v), t.e.ints([2]), t.e.ints([2 + n]));
  const start = t.e.ints(begin);
  const end = t.add(start, spatialOf(like));
  const short = t.max(t.sub(end, spatialOf(x)), t.e.ints(Array(n).fill(0)));
  const pads = t.concat([t.e.ints(Array(n + 2).fill(0)), t.e.ints([0, 0]), short]);
  const padded = t.e.op1("Pad", [x, pads], {}, { dtype: x.dtype });
  return t.e.op1("Slice", [padded, start, end, t.e.ints(axes)], {}, { dtype: x.dtype });
}

