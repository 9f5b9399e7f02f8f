// Cutting a graph at internal values: outputs become those values, post-processing is dropped, and
// onnxruntime computes the same tensors as the whole model does.
import { describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { cutAtValues, CutError } from "../src/onnx/cut.ts";
import { GraphBuilder } from "../src/onnx/builder.ts";
import { readModel } from "../src/onnx/model_io.ts";
import { RankSortSession } from "../src/runtime/session.ts";

const ordinary = resolve(import.meta.dir, "..", "models", "fixtures", "ordinary");

describe("cutAtValues", () => {
  test("keeps what feeds the new outputs, drops the rest", () => {
    const b = new GraphBuilder("g");
    const x = b.input("x", "float32", [2]);
    const w = b.initializer("w", "float32", [1, 2], [2]);
    const unused = b.initializer("unused", "float32", [5], [1]);
    const h = b.op1("Mul", [x, w], {}, { dtype: "float32" });
    const y = b.op1("Add", [h, unused], {}, { dtype: "float32" });
    b.output(y);
    const cut = cutAtValues(b.model(), [h.name]);
    expect(cut.graph!.output.map((o) => o.name)).toEqual([h.name]);
    expect(cut.graph!.node.map((n) => n.opType)).toEqual(["Mul"]);
    expect(cut.graph!.initializer.map((t) => t.name)).toEqual(["w"]);
    expect(() => cutAtValues(b.model(), ["nope"])).toThrow(CutError);
  });

  test("a torchvision full export cut at its head logits equals the logits inside the whole model", async () => {
    const model = readModel(join(ordinary, "torchvision_retinanet.onnx"));
    const heads = ["/head/classification_head/cls_logits/Conv_output_0", "/head/regression_head/bbox_reg_4/Conv_output_0"];
    const cut = cutAtValues(model, heads);
    expect(cut.graph!.node.some((n) => n.opType === "TopK" || n.opType === "NonZero")).toBe(false);
    expect(cut.graph!.node.length).toBeLessThan(model.graph!.node.length / 2);
    const s = await RankSortSession.create(cut, { executionProvider: "cpu" });
    const image = new Float32Array(3 * 128 * 128).map((_, i) => ((i * 7919) % 255) / 255);
    const out = await s.run({ "image.1": { type: "float32", data: image, dims: [3, 128, 128] } });
    expect(out[heads[0]!]!.dims).toEqual([1, 9 * 4, 16, 16]);
    expect(out[heads[1]!]!.dims).toEqual([1, 9 * 4, 1, 1]);
    // The whole model with the same tensors exposed as extra outputs computes the same values.
    const whole = cutAtValues(model, [...model.graph!.output.map((o) => o.name), ...heads]);
    const w = await (await RankSortSession.create(whole, { executionProvider: "cpu" })).run({ "image.1": { type: "float32", data: image, dims: [3, 128, 128] } });
    expect(Array.from(w[heads[0]!]!.data as Float32Array)).toEqual(Array.from(out[heads[0]!]!.data as Float32Array));
  });
});
