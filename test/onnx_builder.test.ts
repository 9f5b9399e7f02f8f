// The graph builder: names, attributes, initializers, opset imports, functions — checked by running
// what it builds in onnxruntime.
import { describe, expect, test } from "bun:test";
import * as ort from "onnxruntime-node";
import { float, FunctionBuilder, GraphBuilder, ref, tensorProto } from "../src/onnx/builder.ts";
import { decodeModel, encodeModel } from "../src/onnx/model_io.ts";
import { AttributeType } from "../src/onnx/proto.ts";

describe("GraphBuilder", () => {
  test("unique names, typed attributes and initializers; runs in onnxruntime", async () => {
    const g = new GraphBuilder("g", { "": 17 });
    const x = g.input("x", "float32", [2, 3]);
    const w = g.initializer("w", "float32", new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2]);
    const y = g.op1("MatMul", [x, w]);
    const y2 = g.op1("MatMul", [x, w]);
    expect(y.name).not.toBe(y2.name);
    const s = g.op1("Add", [y, y2]);
    const clipped = g.op1("Clip", [s, g.scalar("float32", 0), g.scalar("float32", 30)]);
    const summed = g.op1("ReduceSum", [clipped, g.ints([1])], { keepdims: 0 });
    g.output(summed, "out", "float32", [2]);
    const session = await ort.InferenceSession.create(encodeModel(g.model()));
    const out = await session.run({ x: new ort.Tensor("float32", new Float32Array([1, 0, 0, 0, 1, 1]), [2, 3]) });
    // rows: [1,2] and [8,10] → doubled [2,4], [16,20] → clip 30 → sums 6, 36
    expect(Array.from(out.out!.data as Float32Array)).toEqual([6, 36]);
  });

  test("small constants are emitted once per builder (−0 and 0 apart); large ones each time", () => {
    const g = new GraphBuilder("g");
    const a = g.ints([0, 1]);
    const b = g.ints([0, 1], "axes");
    const c = g.ints([1, 0]);
    const [zero, minusZero] = [g.scalar("float32", 0), g.scalar("float32", -0)];
    const [big1, big2] = [g.constant("float32", new Float32Array(32), [32]), g.constant("float32", new Float32Array(32), [32])];
    expect(b.name).toBe(a.name);
    expect(c.name).not.toBe(a.name);
    expect(minusZero.name).not.toBe(zero.name);
    expect(big2.name).not.toBe(big1.name);
    expect(g.nodes.filter((n) => n.opType === "Constant")).toHaveLength(6); // [0, 1], [1, 0], 0, −0 and the two large ones
  });

  test("attribute typing: integers are INT, float() forces FLOAT, lists, strings, refs", () => {
    const g = new GraphBuilder("g");
    const x = g.input("x", "float32", [1]);
    g.op1("Dummy", [x], { i: 3, f: 0.5, forced: float(1), ints: [1, 2], s: "hi", r: ref("delta") });
    const attrs = g.nodes.at(-1)!.attribute;
    const by = (n: string) => attrs.find((a) => a.name === n)!;
    expect(by("i").type).toBe(AttributeType.INT);
    expect(by("f").type).toBe(AttributeType.FLOAT);
    expect(by("forced").type).toBe(AttributeType.FLOAT);
    expect(by("forced").f).toBe(1);
    expect(by("ints").ints).toEqual([1n, 2n]);
    expect(new TextDecoder().decode(by("s").s)).toBe("hi");
    expect(by("r").refAttrName).toBe("delta");
  });

  test("an op in an unimported domain is refused at build time", () => {
    const g = new GraphBuilder("g");
    expect(() => g.op("X", [], {}, { domain: "com.nowhere" })).toThrow(/domain "com.nowhere" has no opset import/);
  });

  test("tensorProto checks the element count", () => {
    expect(() => tensorProto("t", "float32", [1, 2, 3], [2, 2])).toThrow(/3 values for dims \[2, 2\] \(4 expected\)/);
  });

  test("a model-local function with a default attribute runs, with and without the attribute", async () => {
    const f = new FunctionBuilder("com.example", "ScaleBy", { "": 17 }, [{ name: "k", default: float(2) }]);
    const a = f.input("a");
    f.output(f.op1("Mul", [a, f.op1("Constant", [], { value_float: ref("k") })]), "b");
    for (const [attrs, expected] of [[{}, 6], [{ k: float(5) }, 15]] as const) {
      const g = new GraphBuilder("g", { "": 17, "com.example": 1 });
      g.addFunction(f.build());
      const x = g.input("x", "float32", [1]);
      g.output(g.op1("ScaleBy", [x], attrs, { domain: "com.example" }), "y", "float32", [1]);
      const bytes = encodeModel(g.model());
      expect(decodeModel(bytes).functions).toHaveLength(1);
      const s = await ort.InferenceSession.create(bytes);
      const out = await s.run({ x: new ort.Tensor("float32", new Float32Array([3]), [1]) });
      expect((out.y!.data as Float32Array)[0]).toBe(expected);
    }
  });
});
