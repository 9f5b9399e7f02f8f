// Common subexpression elimination: duplicated chains merge in one pass, the results do not change,
// and what must stay distinct (random draws, graph outputs, optional-output variants) stays.
import { describe, expect, test } from "bun:test";
import * as ort from "onnxruntime-node";
import { eliminateCommonSubexpressions } from "../src/onnx/common_subexpressions.ts";
import { GraphBuilder, graphAttr } from "../src/onnx/builder.ts";
import { encodeModel } from "../src/onnx/model_codec.ts";
import { clone, ModelProtoSchema } from "../src/onnx/proto.ts";

describe("eliminateCommonSubexpressions", () => {
  test("a duplicated 4-long chain merges in one pass; outputs equal before and after", async () => {
    const g = new GraphBuilder("cse");
    const x = g.input("x", "float32", [2, 3, 4]);
    // Two copies of Shape → Gather → Unsqueeze → Concat → Reshape, and of a Constant.
    const chain = () => {
      const n = g.op1("Unsqueeze", [g.op1("Gather", [g.op1("Shape", [x]), g.constant("int64", [0], [])], { axis: 0 }), g.ints([0])]);
      return g.op1("Reshape", [x, g.op1("Concat", [n, g.ints([-1])], { axis: 0 })]);
    };
    const a = chain();
    const b = chain();
    const sum = g.op1("Add", [g.op1("Relu", [a]), g.op1("Relu", [b])]);
    g.output(sum);
    const model = g.model();
    const before = clone(ModelProtoSchema, model);
    const nodes = model.graph!.node.length;
    const removed = eliminateCommonSubexpressions(model.graph!);
    // The second chain (Shape, Gather, Unsqueeze, Concat, Reshape, Relu) and its constants go.
    expect(removed).toBeGreaterThanOrEqual(6);
    expect(model.graph!.node.length).toBe(nodes - removed);
    expect(model.graph!.node.filter((n) => n.opType === "Reshape")).toHaveLength(1);
    expect(eliminateCommonSubexpressions(model.graph!)).toBe(0); // settled in one pass
    const feeds = { x: new ort.Tensor("float32", Float32Array.from({ length: 24 }, (_, i) => Math.sin(i)), [2, 3, 4]) };
    const run = async (m: typeof model) => [...((await (await ort.InferenceSession.create(encodeModel(m))).run(feeds))[sum.name]!.data as Float32Array)];
    expect(await run(model)).toEqual(await run(before));
  });

  test("a subgraph reading a merged value from outside reads the kept one", async () => {
    const g = new GraphBuilder("outer");
    const x = g.input("x", "float32", [3]);
    const first = g.op1("Neg", [x]);
    const second = g.op1("Neg", [x]);
    const then = g.subgraph("then");
    then.outputFresh(then.op1("Abs", [second]), "then_out", "float32");
    const otherwise = g.subgraph("else");
    otherwise.outputFresh(otherwise.op1("Identity", [first]), "else_out", "float32");
    const [picked] = g.op("If", [g.constant("bool", [1], [])], { then_branch: graphAttr(then.graph()), else_branch: graphAttr(otherwise.graph()) }, { outputs: ["picked"] });
    g.output(g.op1("Add", [picked!, second]));
    const model = g.model();
    expect(eliminateCommonSubexpressions(model.graph!)).toBe(1);
    const thenGraph = model.graph!.node.find((n) => n.opType === "If")!.attribute.find((a) => a.name === "then_branch")!.g!;
    expect(thenGraph.node[0]!.input).toEqual([first.name]);
    const out = await (await ort.InferenceSession.create(encodeModel(model))).run({ x: new ort.Tensor("float32", new Float32Array([1, -2, 3]), [3]) });
    expect([...(Object.values(out)[0]!.data as Float32Array)]).toEqual([0, 4, 0]);
  });

  test("random draws, graph outputs and a node asking for another set of outputs are not merged", async () => {
    const g = new GraphBuilder("keep");
    const x = g.input("x", "float32", [1, 2, 4, 5]);
    const r1 = g.op1("RandomUniformLike", [x]);
    const r2 = g.op1("RandomUniformLike", [x]);
    const o1 = g.op1("Neg", [x]);
    const o2 = g.op1("Neg", [x]);
    // The forward's MaxPool keeps only values; a later one also wants the indices (a different node).
    const [v1] = g.op("MaxPool", [x], { kernel_shape: [2, 2] }, { outputs: 1 });
    const [v2, i2] = g.op("MaxPool", [x], { kernel_shape: [2, 2] }, { outputs: 2 });
    const outs = [r1, r2, o1, o2, g.op1("Abs", [v1!]), g.op1("Neg", [v2!]), g.op1("Cast", [i2!], { to: 1 })];
    for (const v of outs) g.output(v);
    const model = g.model();
    const before = clone(ModelProtoSchema, model);
    const m = model.graph!;
    expect(eliminateCommonSubexpressions(m)).toBe(0);
    expect(m.node.filter((n) => n.opType === "RandomUniformLike")).toHaveLength(2);
    expect(m.node.filter((n) => n.opType === "Neg")).toHaveLength(3);
    expect(m.node.filter((n) => n.opType === "MaxPool")).toHaveLength(2);
    const feeds = { x: new ort.Tensor("float32", Float32Array.from({ length: 40 }, (_, i) => Math.cos(i * 1.7)), [1, 2, 4, 5]) };
    const run = async (mm: typeof model) => {
      const out = await (await ort.InferenceSession.create(encodeModel(mm))).run(feeds);
      return outs.slice(4).map((v) => [...(out[v.name]!.data as Float32Array)]);
    };
    expect(await run(model)).toEqual(await run(before));
  });
});
