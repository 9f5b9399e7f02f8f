// Readable arithmetic over a NodeEmitter: `t.add(a, b)` instead of `e.op1("Add", [a, b])`. Used by
// the function bodies of our ops and by gradient rules.

import { type AttrValue, type DTypeName, type NodeEmitter, tensorProto, type Value } from "./builder.ts";

type V = Value;

export class TensorOps {
  constructor(readonly e: NodeEmitter) {}

  private bin(op: string, a: V, b: V, dtype = a.dtype): V {
    return this.e.op1(op, [a, b], {}, { dtype });
  }
  add(a: V, b: V): V { return this.bin("Add", a, b); }
  sub(a: V, b: V): V { return this.bin("Sub", a, b); }
  mul(a: V, b: V): V { return this.bin("Mul", a, b); }
  div(a: V, b: V): V { return this.bin("Div", a, b); }
  max(a: V, b: V): V { return this.bin("Max", a, b); }
  min(a: V, b: V): V { return this.bin("Min", a, b); }
  matmul(a: V, b: V): V { return this.bin("MatMul", a, b); }
  neg(a: V): V { return this.e.op1("Neg", [a], {}, { dtype: a.dtype }); }
  reciprocal(a: V): V { return this.e.op1("Reciprocal", [a], {}, { dtype: a.dtype }); }

  greater(a: V, b: V): V { return this.bin("Greater", a, b, "bool"); }
  greaterOrEqual(a: V, b: V): V { return this.bin("GreaterOrEqual", a, b, "bool"); }
  less(a: V, b: V): V { return this.bin("Less", a, b, "bool"); }
  lessOrEqual(a: V, b: V): V { return this.bin("LessOrEqual", a, b, "bool"); }
  equal(a: V, b: V): V { return this.bin("Equal", a, b, "bool"); }
  and(a: V, b: V): V { return this.bin("And", a, b, "bool"); }
  not(a: V): V { return this.e.op1("Not", [a], {}, { dtype: "bool" }); }

  where(cond: V, a: V, b: V): V { return this.e.op1("Where", [cond, a, b], {}, { dtype: a.dtype }); }
  cast(a: V, to: DTypeName): V {
    const code = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11 }[to];
    return this.e.op1("Cast", [a], { to: code }, { dtype: to });
  }
  clip(a: V, lo: V, hi: V): V { return this.e.op1("Clip", [a, lo, hi], {}, { dtype: a.dtype }); }

  reduceSum(a: V, axes?: readonly number[], keepdims = 0): V {
    return this.e.op1("ReduceSum", axes ? [a, this.e.ints(axes, "axes")] : [a], { keepdims }, { dtype: a.dtype });
  }
  reduceMax(a: V, axes: readonly number[], keepdims = 0): V {
    return this.reduceWithAxes("ReduceMax", a, axes, keepdims);
  }
  reduceMin(a: V, axes?: readonly number[], keepdims = 0): V {
    return this.reduceWithAxes("ReduceMin", a, axes, keepdims);
  }
  reduceMean(a: V, axes?: readonly number[], keepdims = 0): V {
    return this.reduceWithAxes("ReduceMean", a, axes, keepdims);
  }
  /** ReduceMin/Max/Mean take axes as an attribute before opset 18 and as an input from 18 on. */
  private reduceWithAxes(op: string, a: V, axes: readonly number[] | undefined, keepdims: number): V {
    const opset = this.e.opsets.get("") ?? 17;
    if (!axes) return this.e.op1(op, [a], { keepdims }, { dtype: a.dtype });
    return opset >= 18
      ? this.e.op1(op, [a, this.e.ints(axes, "axes")], { keepdims }, { dtype: a.dtype })
      : this.e.op1(op, [a], { axes: axes as number[], keepdims }, { dtype: a.dtype });
  }

  unsqueeze(a: V, axes: readonly number[]): V { return this.e.op1("Unsqueeze", [a, this.e.ints(axes, "axes")], {}, { dtype: a.dtype }); }
  reshape(a: V, shape: readonly number[] | V): V {
    return this.e.op1("Reshape", [a, Array.isArray(shape) ? this.e.ints(shape as number[], "shape") : (shape as V)], {}, { dtype: a.dtype });
  }
  concat(parts: readonly V[], axis = 0): V { return this.e.op1("Concat", parts, { axis }, { dtype: parts[0]!.dtype }); }
  gather(a: V, indices: V, axis = 0): V { return this.e.op1("Gather", [a, indices], { axis }, { dtype: a.dtype }); }
  slice(a: V, start: V, end: V): V { return this.e.op1("Slice", [a, start, end], {}, { dtype: a.dtype }); }
  shape(a: V): V { return this.e.op1("Shape", [a], {}, { dtype: "int64" }); }
  cumsum(a: V, axis = 0): V { return this.e.op1("CumSum", [a, this.e.constant("int64", [axis], [], "axis")], {}, { dtype: a.dtype }); }
  /** Flattened indices of the true entries of a 1-D bool tensor. */
  nonzero1d(mask: V): V { return this.reshape(this.e.op1("NonZero", [mask], {}, { dtype: "int64" }), [-1]); }
  /** ScatterND of 1-D `updates` into `data` at 1-D `indices`. */
  scatter1d(data: V, indices: V, updates: V): V {
    return this.e.op1("ScatterND", [data, this.unsqueeze(indices, [1]), updates], {}, { dtype: data.dtype });
  }
  /** Zeros shaped like `shapeOf` (1-D int64 shape tensor). */
  zeros(shapeOf: V, dtype: DTypeName): V {
    return this.e.op1("ConstantOfShape", [shapeOf], { value: { kind: "tensor", value: zeroTensor(dtype) } as AttrValue }, { dtype });
  }
  /** 0, 1, …, n−1 as int64, n a 1-element int64 tensor. */
  range(n: V): V {
    return this.e.op1("Range", [this.e.scalar("int64", 0, "zero_i"), this.reshape(n, []), this.e.scalar("int64", 1, "one_i")], {}, { dtype: "int64" });
  }
  /** TopK ascending over a 1-D tensor of length k (a 1-element int64 tensor): [values, indices]. */
  sortAscending(a: V, k: V): [V, V] {
    const [values, indices] = this.e.op("TopK", [a, k], { axis: 0, largest: 0, sorted: 1 }, { outputs: ["sorted", "order"] });
    return [{ ...values!, dtype: a.dtype }, { ...indices!, dtype: "int64" }];
  }

  scalar(dtype: DTypeName, value: number): V { return this.e.scalar(dtype, value); }
  /** A scalar from a float attribute of the enclosing function. */
  attrScalar(name: string, dtype: DTypeName): V {
    const f = this.e.op1("Constant", [], { value_float: { kind: "ref", name, type: "float" } }, { dtype: "float32" });
    return dtype === "float32" ? f : this.cast(f, dtype);
  }
}

function zeroTensor(dtype: DTypeName) {
  return tensorProto("zero", dtype, [0], [1]);
}
