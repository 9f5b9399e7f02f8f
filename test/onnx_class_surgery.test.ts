// Class surgery on small graphs: the class conv's rows are chosen, the class axis is followed
// through a torchvision-style head reshape (a shape assembled from Shape pieces and a literal class
// count, split into anchors × classes), a transpose and a flatten to [B, N, K] — the rewritten graph
// gives exactly the kept channels of the original; an op the rewrite cannot follow is named.
import { describe, expect, test } from "bun:test";
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "../src/onnx/builder.ts";
import { ClassSurgeryError, downstreamValues, rewriteClassChannels } from "../src/onnx/class_surgery.ts";
import { encodeModel } from "../src/onnx/model_codec.ts";
import { cutAtValues } from "../src/onnx/cut.ts";
import type { ModelProto } from "../src/onnx/proto.ts";

const [A, K, H] = [2, 4, 3];

/** images [B, 3, H, H] → Conv (A·K) → view [B, A, K, H, W] → [B, H, W, A, K] → [B, H·W·A, K] → Sigmoid. */
function head(extra?: "gather-classes"): ModelProto {
  const b = new GraphBuilder("head");
  const x = b.input("images", "float32", ["batch", 3, H, H]);
  const w = b.initializer("cls.weight", "float32", Float32Array.from({ length: A * K * 3 }, (_, i) => Math.sin(i + 1)), [A * K, 3, 1, 1]);
  const bias = b.initializer("cls.bias", "float32", Float32Array.from({ length: A * K }, (_, i) => i / 10), [A * K]);
  const conv = b.op1("Conv", [x, w, bias], {}, { dtype: "float32", name: "cls" });
  const shape = b.op1("Shape", [conv], {}, { dtype: "int64" });
  const piece = (i: number) => b.op1("Slice", [shape, b.constant("int64", [i], [1]), b.constant("int64", [i + 1], [1])], {}, { dtype: "int64" });
  const view = b.op1("Concat", [piece(0), b.constant("int64", [-1], [1]), b.constant("int64", [K], [1]), piece(2), piece(3)], { axis: 0 }, { dtype: "int64" });
  const r = b.op1("Reshape", [conv, view], {}, { dtype: "float32" });
  const t = b.op1("Transpose", [r], { perm: [0, 3, 4, 1, 2] }, { dtype: "float32" });
  const flat = b.op1("Reshape", [t, b.constant("int64", [0, -1, K], [3])], {}, { dtype: "float32" });
  let scores = b.op1("Sigmoid", [flat], {}, { dtype: "float32" });
  if (extra === "gather-classes") scores = b.op1("Gather", [scores, b.constant("int64", [0, 1], [2])], { axis: 2 }, { dtype: "float32" });
  b.output(scores, "scores");
  return b.model();
}

async function runModel(m: ModelProto, names?: string[]): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(encodeModel(names ? cutAtValues(m, names) : m));
  const x = Float32Array.from({ length: 2 * 3 * H * H }, (_, i) => Math.cos(i));
  return s.run({ images: new ort.Tensor("float32", x, [2, 3, H, H]) });
}

async function shapesAfter(m: ModelProto): Promise<Map<string, number[]>> {
  const g = m.graph!;
  // What the caller measures: the class conv's output, every value after it and what those nodes read.
  const conv = g.node.find((n) => n.name === "cls")!.output[0]!;
  const names = [conv, ...downstreamValues(g, [conv]), ...g.node.filter((n) => n.opType !== "Constant").flatMap((n) => n.output)];
  const out = await runModel(m, [...new Set(names)]);
  return new Map(Object.entries(out).map(([k, v]) => [k, [...v.dims]]));
}

describe("class surgery", () => {
  test("keeps chosen channels per anchor through a torchvision-style reshape/transpose/flatten", async () => {
    const m = head();
    const rows = [3, 1, -1];
    const rewritten = rewriteClassChannels(m, ["cls"], { groups: A, oldClasses: K, rows, freshBias: -4.595, freshStd: 0.01, seed: 1 }, await shapesAfter(m));
    const before = (await runModel(m)).scores!;
    const after = (await runModel(rewritten)).scores!;
    const N = H * H * A;
    expect([...before.dims]).toEqual([2, N, K]);
    expect([...after.dims]).toEqual([2, N, 3]);
    const b = before.data as Float32Array;
    const a = after.data as Float32Array;
    for (let i = 0; i < 2 * N; i++) {
      expect(a[i * 3]).toBe(b[i * K + 3]!);
      expect(a[i * 3 + 1]).toBe(b[i * K + 1]!);
      expect(a[i * 3 + 2]).toBeCloseTo(1 / (1 + Math.exp(4.595)), 2); // a fresh class at its prior
    }
    // The literal class count was edited in place: the same node types, no extra initializers.
    expect(rewritten.graph!.node.map((n) => n.opType)).toEqual(m.graph!.node.map((n) => n.opType));
  });

  test("an op that reads particular classes is named", async () => {
    const m = head("gather-classes");
    const shapes = await shapesAfter(m);
    const rewrite = () => rewriteClassChannels(m, ["cls"], { groups: A, oldClasses: K, rows: [0, 1], freshBias: 0, freshStd: 0.01, seed: 1 }, shapes, "head.onnx");
    expect(rewrite).toThrow(ClassSurgeryError);
    expect(rewrite).toThrow(/head.onnx: cannot rewrite the class outputs: "Gather_node[^"]*" gathers on the class axis/);
  });
});
