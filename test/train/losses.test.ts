// The standard losses built from ONNX ops: values against plain TypeScript formulas, gradients
// against central differences.
import { describe, expect, test } from "bun:test";
import * as ort from "onnxruntime-node";
import { GraphBuilder, type Value } from "../../src/onnx/builder.ts";
import { encodeModel } from "../../src/onnx/model_codec.ts";
import { TensorOps } from "../../src/onnx/tensor_ops.ts";
import { crossEntropyLoss, focalLoss, giouLoss, l1Loss, smoothL1Loss } from "../../src/train/losses.ts";
import { checkGradient } from "../support/grad_check.ts";

async function evaluate(build: (t: TensorOps, a: Value, b: Value) => Value, a: number[], aDims: number[], b: number[], bDims: number[]): Promise<number> {
  const g = new GraphBuilder("loss");
  const av = g.input("a", "float32", aDims);
  const bv = g.input("b", "float32", bDims);
  g.output(build(new TensorOps(g), av, bv), "loss", "float32", []);
  const s = await ort.InferenceSession.create(encodeModel(g.model()));
  const out = await s.run({ a: new ort.Tensor("float32", Float32Array.from(a), aDims), b: new ort.Tensor("float32", Float32Array.from(b), bDims) });
  return (out.loss!.data as Float32Array)[0]!;
}

describe("losses", () => {
  test("L1 and smooth-L1", async () => {
    const p = [0.2, -1.5, 3, 0.9];
    const q = [0, 0.5, 1, 1];
    expect(await evaluate((t, a, b) => l1Loss(t, a, b), p, [4], q, [4])).toBeCloseTo((0.2 + 2 + 2 + 0.1) / 4, 6);
    const sl1 = (d: number) => (Math.abs(d) < 1 ? 0.5 * d * d : Math.abs(d) - 0.5);
    expect(await evaluate((t, a, b) => smoothL1Loss(t, a, b), p, [4], q, [4])).toBeCloseTo(p.reduce((s, v, i) => s + sl1(v - q[i]!), 0) / 4, 6);
  });

  test("cross-entropy", async () => {
    const logits = [1, 2, 0.5, -1, 0, 3];
    const onehot = [0, 1, 0, 0, 0, 1];
    const row = (r: number[], k: number) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0)) - r[k]!;
    const expected = (row(logits.slice(0, 3), 1) + row(logits.slice(3), 2)) / 2;
    expect(await evaluate((t, a, b) => crossEntropyLoss(t, a, b), logits, [2, 3], onehot, [2, 3])).toBeCloseTo(expected, 5);
  });

  test("sigmoid focal loss: positives, negatives, ignored entries, normalizer", async () => {
    const x = [2, -1, 0.5, 3];
    const y = [1, 0, -1, 0];
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const term = (v: number, pos: boolean) => {
      const p = sig(v);
      const pt = pos ? p : 1 - p;
      return (pos ? 0.25 : 0.75) * (1 - pt) ** 2 * -Math.log(pt);
    };
    const expected = (term(2, true) + term(-1, false) + term(3, false)) / 2;
    expect(await evaluate((t, a, b) => focalLoss(t, a, b, t.scalar("float32", 2)), x, [4], y, [4])).toBeCloseTo(expected, 6);
  });

  test("GIoU loss against the formula, and its gradient", async () => {
    const boxes = [0, 0, 2, 2, 1, 1, 4, 3];
    const targets = [1, 1, 3, 3, 0, 0, 2, 2];
    const giou = (a: number[], b: number[]) => {
      const area = (x1: number, y1: number, x2: number, y2: number) => Math.max(x2 - x1, 0) * Math.max(y2 - y1, 0);
      const inter = area(Math.max(a[0]!, b[0]!), Math.max(a[1]!, b[1]!), Math.min(a[2]!, b[2]!), Math.min(a[3]!, b[3]!));
      const union = area(a[0]!, a[1]!, a[2]!, a[3]!) + area(b[0]!, b[1]!, b[2]!, b[3]!) - inter;
      const hull = area(Math.min(a[0]!, b[0]!), Math.min(a[1]!, b[1]!), Math.max(a[2]!, b[2]!), Math.max(a[3]!, b[3]!));
      return inter / union - (hull - union) / hull;
    };
    const expected = (1 - giou(boxes.slice(0, 4), targets.slice(0, 4)) + 1 - giou(boxes.slice(4), targets.slice(4))) / 2;
    expect(await evaluate((t, a, b) => giouLoss(t, a, b), boxes, [2, 4], targets, [2, 4])).toBeCloseTo(expected, 5);
    const r = await checkGradient((g, v) => [giouLoss(new TensorOps(g), v.a!, v.b!)], [
      { name: "a", shape: [2, 4], data: boxes.map((x) => x + 0.01) },
      { name: "b", shape: [2, 4], data: targets, differentiable: false },
    ], { dtype: "float32", h: 1e-3, abs: 1e-3, rel: 1e-2, samples: 8 });
    expect(r.report).toEqual([]);
  });
});
