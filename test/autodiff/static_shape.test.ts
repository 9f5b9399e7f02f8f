// Shapes known before running: the op formulas on hand-built graphs, and every dim the inference
// claims on real exports (detectors with and without post-processing) equal to what onnxruntime
// produces when it runs them.
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import * as ort from "onnxruntime-node";
import { broadcastDims, staticShapes } from "../../src/autodiff/static_shape.ts";
import { GraphBuilder, tensorProto, valueInfo } from "../../src/onnx/builder.ts";
import { encodeModel } from "../../src/onnx/model_codec.ts";
import { readModel } from "../../src/onnx/model_io.ts";
import { cutAtValues } from "../../src/onnx/cut.ts";
import { headTensorNames } from "../../src/detect/detector_binding.ts";
import { PRESETS } from "../../src/detect/presets.ts";

const fixtures = resolve(import.meta.dir, "..", "..", "models", "fixtures");

describe("staticShapes", () => {
  test("conv, pool, resize, gemm, matmul, reshape, slice, pad, concat and squeeze formulas; a symbolic batch stays unknown", () => {
    const g = new GraphBuilder("shapes");
    const x = g.input("x", "float32", ["n", 3, 17, 16]);
    const w = g.initializer("w", "float32", new Float32Array(8 * 3 * 9), [8, 3, 3, 3]);
    const conv = g.op1("Conv", [x, w], { pads: [1, 1, 1, 1], strides: [2, 2] });
    const pool = g.op1("MaxPool", [conv], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 });
    const up = g.op1("Resize", [pool, "", g.constant("float32", [1, 1, 2, 2], [4])], { mode: "nearest" });
    const wt = g.initializer("wt", "float32", new Float32Array(8 * 2 * 2 * 2), [8, 2, 2, 2]);
    const deconv = g.op1("ConvTranspose", [conv, wt], { strides: [2, 2], group: 2 });
    const flat = g.op1("Reshape", [up, g.ints([0, -1])]);
    const a = g.input("a", "float32", [5, 7]);
    const b = g.input("b", "float32", [2, 1, 7, 4]);
    const gemm = g.op1("Gemm", [a, g.initializer("bw", "float32", new Float32Array(9 * 7), [9, 7])], { transB: 1 });
    const mm = g.op1("MatMul", [a, b]);
    const sliced = g.op1("Slice", [x, g.ints([1, -5]), g.ints([100, -1]), g.ints([1, 3]), g.ints([1, 2])]);
    const padded = g.op1("Pad", [a, g.ints([1, 0, 2, 3])]);
    const cat = g.op1("Concat", [a, padded], { axis: 0 });
    const sq = g.op1("Squeeze", [g.op1("Unsqueeze", [a, g.ints([0, 3])]), g.ints([0])]);
    const red = g.op1("ReduceSum", [b, g.ints([1, -1])], { keepdims: 0 });
    g.output(deconv);
    const s = staticShapes(g.model().graph!);
    expect(s.dims(conv.name)).toEqual([undefined, 8, 9, 8]);
    expect(s.dims(pool.name)).toEqual([undefined, 8, 4, 4]); // ceil((9 - 3) / 2) + 1 = 4
    expect(s.dims(up.name)).toEqual([undefined, 8, 8, 8]);
    expect(s.dims(deconv.name)).toEqual([undefined, 4, 18, 16]);
    expect(s.dims(flat.name)).toEqual([undefined, undefined]); // 0 copies an unknown batch; −1 then cannot be solved
    expect(s.fullDims(gemm.name)).toEqual([5, 9]);
    expect(s.fullDims(mm.name)).toEqual([2, 1, 5, 4]);
    expect(s.dims(sliced.name)).toEqual([undefined, 2, 17, 2]); // [1, 3) of 3 channels; every other of [11, 15)
    expect(s.fullDims(padded.name)).toEqual([8, 10]);
    expect(s.fullDims(cat.name)).toEqual([13, 7]);
    expect(s.fullDims(sq.name)).toEqual([5, 7, 1]);
    expect(s.fullDims(red.name)).toEqual([2, 7]);
  });

  test("the values of shape arithmetic (Shape → Gather → Unsqueeze → Concat) make a computed Reshape known", () => {
    const g = new GraphBuilder("values");
    const x = g.input("x", "float32", [2, 6, 4, 4]);
    const shape = g.op1("Shape", [x]);
    const batch = g.op1("Unsqueeze", [g.op1("Gather", [shape, g.constant("int64", [0], [])], { axis: 0 }), g.ints([0])]);
    const target = g.op1("Concat", [batch, g.ints([3, -1])], { axis: 0 });
    const y = g.op1("Reshape", [x, target]);
    const tail = g.op1("Slice", [shape, g.ints([2]), g.ints([4])]);
    const area = g.op1("Mul", [g.op1("Gather", [tail, g.constant("int64", [0], [])]), g.op1("Gather", [tail, g.constant("int64", [1], [])])]);
    g.output(y);
    const s = staticShapes(g.model().graph!);
    expect(s.values(shape.name)).toEqual([2, 6, 4, 4]);
    expect(s.values(target.name)).toEqual([2, 3, -1]);
    expect(s.fullDims(y.name)).toEqual([2, 3, 32]);
    expect(s.values(tail.name)).toEqual([4, 4]);
    expect(s.values(area.name)).toEqual([16]);
  });

  test("size arithmetic in float32 (as onnxruntime rounds it) and small integer tensors through ConstantOfShape, Slice with step −1 and Transpose", async () => {
    const g = new GraphBuilder("arith");
    const x = g.input("x", "float32", [1, 2, 49, 6]);
    const hw = g.op1("Slice", [g.op1("Shape", [x]), g.ints([2]), g.ints([4])]);
    // 49 · fround(1/49) = 0.99999998 in float64 but 1 in float32: the floor must see 1.
    const inv = g.op1("Reciprocal", [g.op1("Cast", [g.op1("ReduceMax", [hw], { keepdims: 0 })], { to: 1 })]);
    const one = g.op1("Floor", [g.op1("Mul", [inv, g.op1("Cast", [g.op1("ReduceMax", [hw], { keepdims: 0 })], { to: 1 })])]);
    const scaled = g.op1("Floor", [g.op1("Mul", [g.op1("Cast", [hw], { to: 1 }), g.op1("Min", [g.constant("float32", [0.7], []), g.constant("float32", [2.5], [])])])]);
    const sizes = g.op1("Concat", [g.ints([1, 2]), g.op1("Cast", [scaled], { to: 7 })], { axis: 0 });
    const resized = g.op1("Resize", [x, "", "", sizes], { mode: "nearest" });
    // Pads built as torch's F.pad exports them: pairs reversed (step −1) and transposed.
    const pairs = g.op1("Reshape", [g.op1("Concat", [g.ints([0, 1, 2, 3]), g.op1("ConstantOfShape", [g.ints([4])], { value: { kind: "tensor", value: tensorProto("", "int64", new BigInt64Array(1), [1]) } })], { axis: 0 }), g.ints([4, 2])]);
    const pads = g.op1("Reshape", [g.op1("Transpose", [g.op1("Slice", [pairs, g.ints([-1]), g.ints([-1000]), g.ints([0]), g.ints([-1])])], { perm: [1, 0] }), g.ints([-1])]);
    const padded = g.op1("Pad", [x, pads]);
    for (const v of [one, resized, padded]) g.output(v);
    const s = staticShapes(g.model().graph!);
    expect(s.floatValues(one.name)).toEqual([1]);
    expect(s.values(sizes.name)).toEqual([1, 2, 34, 4]);
    expect(s.values(pairs.name)).toEqual([0, 1, 2, 3, 0, 0, 0, 0]);
    expect(s.values(pads.name)).toEqual([0, 0, 2, 0, 0, 0, 3, 1]);
    expect(s.fullDims(resized.name)).toEqual([1, 2, 34, 4]);
    expect(s.fullDims(padded.name)).toEqual([1, 2, 54, 7]);
    // And onnxruntime agrees.
    const session = await ort.InferenceSession.create(encodeModel(g.model()), { logSeverityLevel: 3 });
    const out = await session.run({ x: new ort.Tensor("float32", new Float32Array(2 * 49 * 6), [1, 2, 49, 6]) });
    expect([...out[one.name]!.data]).toEqual([1]);
    expect(out[resized.name]!.dims).toEqual([1, 2, 34, 4]);
    expect(out[padded.name]!.dims).toEqual([1, 2, 54, 7]);
  });

  // What training runs of a full export — the graph cut at the preset's head tensors — is known
  // throughout, so its gradients carry no run-time shape arithmetic.
  for (const [file, preset] of [["torchvision_fcos.onnx", "fcos_resnet50_fpn"], ["torchvision_retinanet.onnx", "retinanet_resnet50_fpn"], ["torchvision_ssdlite.onnx", "ssdlite320_mobilenet_v3_large"]] as const) {
    test(`every value of ordinary/${file} up to the ${preset} heads has known dims`, () => {
      const heads = cutAtValues(readModel(resolve(fixtures, "ordinary", file)), headTensorNames(PRESETS[preset]!));
      const s = staticShapes(heads.graph!);
      const unknown = heads.graph!.node.flatMap((n) => n.output.filter((o) => o && !s.fullDims(o)).map((o) => `${n.opType} ${o}`));
      expect(unknown).toEqual([]);
    });
  }

  test("ranks survive where dims do not: a Resize to computed scales keeps its rank; a Reshape to a data-dependent shape has none", () => {
    const g = new GraphBuilder("ranks");
    const x = g.input("x", "float32", ["n", 3, 8, 8]);
    const scales = g.op1("Abs", [g.input("s", "float32", [4])]);
    const up = g.op1("Resize", [x, "", scales], { mode: "nearest" });
    const both = g.op1("Add", [g.op1("Relu", [up]), g.initializer("b", "float32", new Float32Array(3), [3, 1, 1])]);
    const nz = g.op1("Reshape", [x, g.op1("Squeeze", [g.op1("NonZero", [g.ints([1, 0, 2])])])]);
    g.output(both);
    const s = staticShapes(g.model().graph!);
    expect(s.dims(up.name)).toEqual([undefined, undefined, undefined, undefined]);
    expect(s.dims(both.name)).toEqual([undefined, 3, undefined, undefined]);
    expect(s.dims(nz.name)).toBeUndefined();
  });

  test("broadcasting: 1 stretches, unknown beside n > 1 is n, unknown beside 1 stays unknown, a mismatch is no shape", () => {
    expect(broadcastDims([[2, 1, 5], [3, 1]])).toEqual([2, 3, 5]);
    expect(broadcastDims([[undefined, 4], [3, 1]])).toEqual([3, 4]);
    expect(broadcastDims([[undefined, 4], [1, 4]])).toEqual([undefined, 4]);
    expect(broadcastDims([[2, 4], [3, 4]])).toBeUndefined();
  });

  // Every value the inference claims to know, against the shapes onnxruntime computes; the fixed-
  // input detectors must come out fully known almost everywhere (that is what the gradients use).
  // The full exports (post-processing included) only miss what NMS and top-k make data-dependent:
  // torchvision's transform (resize and batching by float size arithmetic) is known up to the heads.
  for (const [file, minKnown] of [["tiny_fcos.onnx", 0.95], ["tiny_retinanet.onnx", 0.95], ["tiny_ssdlite.onnx", 0.95], ["ordinary/torchvision_fcos.onnx", 0.65], ["ordinary/torchvision_retinanet.onnx", 0.4], ["ordinary/torchvision_ssdlite.onnx", 0.9]] as const) {
    test(`claims on ${file} equal onnxruntime's shapes`, async () => {
      const model = readModel(resolve(fixtures, file));
      const g = model.graph!;
      const s = staticShapes(g);
      const known = new Set([...g.input, ...g.output].map((v) => v.name));
      const inner = g.node.filter((n) => n.opType !== "Constant" && !n.attribute.some((a) => a.g)).flatMap((n) => n.output.filter((o) => o && !known.has(o)));
      for (const o of inner) g.output.push(valueInfo(o));
      const session = await ort.InferenceSession.create(encodeModel(model), { logSeverityLevel: 3 });
      const feeds: Record<string, ort.Tensor> = {};
      const inits = new Set(g.initializer.map((t) => t.name));
      for (const v of g.input) {
        if (inits.has(v.name)) continue;
        const dims = (s.dims(v.name) ?? []).map((d) => d ?? 1);
        const count = dims.reduce((a, b) => a * b, 1);
        feeds[v.name] = new ort.Tensor("float32", Float32Array.from({ length: count }, (_, i) => Math.sin(i * 0.7) * 0.5 + 0.5), dims);
      }
      const out = await session.run(feeds);
      const wrong: string[] = [];
      let full = 0;
      let floatValues = 0;
      for (const o of inner) {
        const actual = out[o]?.dims;
        if (!actual) continue;
        const claimed = s.dims(o);
        const data = out[o]!.data;
        if (data instanceof Float32Array) floatValues++;
        if (!claimed) continue;
        if (claimed.length !== actual.length || claimed.some((d, k) => d !== undefined && d !== actual[k])) wrong.push(`${o}: claimed [${claimed.join(", ")}], ran [${actual.join(", ")}]`);
        if (data instanceof Float32Array && claimed.every((d) => d !== undefined)) full++;
        const v = s.values(o);
        if (v && data instanceof BigInt64Array && v.some((x, i) => BigInt(x) !== data[i])) wrong.push(`${o}: claimed values [${v.join(", ")}], ran [${[...data].join(", ")}]`);
        const f = s.floatValues(o);
        if (f && data instanceof Float32Array && (f.length !== data.length || f.some((x, i) => x !== data[i]))) wrong.push(`${o}: claimed float values [${f.join(", ")}], ran [${[...data].join(", ")}]`);
      }
      expect(wrong).toEqual([]);
      expect(full / floatValues).toBeGreaterThanOrEqual(minKnown);
    }, 60_000);
  }
});
