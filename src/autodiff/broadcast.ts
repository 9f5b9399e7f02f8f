// Reducing a broadcast gradient back to an operand's shape: with constant axes where the shapes
// are known before running (nothing at all when the operand was not broadcast), else from the
// shapes at run time.

import { tensorProto, type Value } from "../onnx/builder.ts";
import type { TensorOps } from "../onnx/tensor_ops.ts";
import type { Dims } from "./static_shape.ts";

/**
 * Sum `g` over the axes along which `like` was broadcast, and reshape to `like`'s shape.
 * `gDims`/`likeDims`: their dims where known before running (static_shape.ts).
 */
export function sumToShapeOf(t: TensorOps, g: Value, like: Value, gDims?: Dims, likeDims?: Dims): Value {
  const axes = gDims && likeDims ? broadcastAxes(gDims, likeDims) : undefined;
  if (axes) {
    const lead = gDims!.length - likeDims!.length;
    if (!axes.length) return g;
    const summed = t.reduceSum(g, axes, 1);
    if (!lead) return summed;
    return likeDims!.every((d) => d !== undefined) ? t.reshape(summed, likeDims as number[]) : t.e.op1("Squeeze", [summed, t.e.ints(axes.slice(0, lead))], {}, { dtype: g.dtype });
  }
  const gShape = t.shape(g);
  const xShape = t.shape(like);
  const lead = t.sub(t.shape(gShape), t.shape(xShape));
  const ones = t.e.op1("ConstantOfShape", [lead], { value: { kind: "tensor", value: oneInt64() } }, { dtype: "int64" });
  const padded = t.concat([ones, xShape]);
  const nonzero = t.nonzero1d(t.not(t.equal(padded, gShape)));
  const summed = t.e.op1("ReduceSum", [g, nonzero], { keepdims: 1, noop_with_empty_axes: 1 }, { dtype: g.dtype });
  return t.reshape(summed, xShape);
}

/**
 * The axes of `g` to sum so that it takes `like`'s shape (leading axes first), or undefined when
 * the known dims do not decide it (an operand dim of 1 against an unknown one).
 */
export function broadcastAxes(gDims: Dims, likeDims: Dims): number[] | undefined {
  const lead = gDims.length - likeDims.length;
  if (lead < 0) return undefined;
  const axes = Array.from({ length: lead }, (_, k) => k);
  for (let k = 0; k < likeDims.length; k++) {
    const [x, y] = [likeDims[k], gDims[lead + k]];
    if (x !== undefined && x !== 1) continue; // a dim > 1 was not broadcast
    if (x === 1 && y === 1) continue;
    if (x === 1 && y !== undefined) axes.push(lead + k);
    else if (y !== 1) return undefined;
  }
  return axes;
}

function oneInt64() {
  return tensorProto("one", "int64", [1], [1]);
}
