// Reducing a broadcast gradient: constant axes from known dims, nothing at all when the operand was
// not broadcast, the run-time path when the dims do not decide it.
import { describe, expect, test } from "bun:test";
import { broadcastAxes, sumToShapeOf } from "../../src/autodiff/broadcast.ts";
import { NodeEmitter } from "../../src/onnx/builder.ts";
import { TensorOps } from "../../src/onnx/tensor_ops.ts";

describe("broadcastAxes", () => {
  test("leading axes and stretched 1s are summed; dims > 1 never; an unknown beside a 1 is undecided", () => {
    expect(broadcastAxes([2, 3, 4], [3, 4])).toEqual([0]);
    expect(broadcastAxes([2, 3, 4], [1, 3, 1])).toEqual([0, 2]);
    expect(broadcastAxes([2, 3, 4], [2, 3, 4])).toEqual([]);
    expect(broadcastAxes([undefined, 3, 4], [1, 3, 4])).toBeUndefined();
    expect(broadcastAxes([undefined, 3, 4], [undefined, 3, 4])).toBeUndefined();
    expect(broadcastAxes([undefined, 3, 4], [3, 4])).toEqual([0]);
    expect(broadcastAxes([1, 3], [1, 3])).toEqual([]);
    expect(broadcastAxes([3], [2, 3])).toBeUndefined();
  });
});

describe("sumToShapeOf", () => {
  const ops = () => new TensorOps(new NodeEmitter({ "": 17 }));
  test("equal known shapes: the gradient itself, no node", () => {
    const t = ops();
    const g = { name: "g", dtype: "float32" as const };
    expect(sumToShapeOf(t, g, { name: "x" }, [2, 3], [2, 3])).toBe(g);
    expect(t.e.nodes).toHaveLength(0);
  });
  test("known broadcast: one ReduceSum over constant axes, and a Reshape only for dropped leading axes", () => {
    const t = ops();
    sumToShapeOf(t, { name: "g", dtype: "float32" }, { name: "b" }, [2, 8, 4, 4], [1, 8, 1, 1]);
    expect(t.e.nodes.map((n) => n.opType)).toEqual(["Constant", "ReduceSum"]);
    const t2 = ops();
    sumToShapeOf(t2, { name: "g", dtype: "float32" }, { name: "b" }, [2, 8, 4, 4], [8, 1, 1]);
    expect(t2.e.nodes.map((n) => n.opType).filter((o) => o !== "Constant")).toEqual(["ReduceSum", "Reshape"]);
  });
  test("undecided dims: shapes compared at run time", () => {
    const t = ops();
    sumToShapeOf(t, { name: "g", dtype: "float32" }, { name: "b" }, [undefined, 8], [1, 8]);
    expect(t.e.nodes.some((n) => n.opType === "NonZero")).toBe(true);
  });
});
