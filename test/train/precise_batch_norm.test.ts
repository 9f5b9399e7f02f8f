import { describe, expect, test } from "bun:test";
import { GraphBuilder } from "../../src/onnx/builder.ts";
import { encodeModel } from "../../src/onnx/model_codec.ts";
import { RankSortSession } from "../../src/runtime/session.ts";
import { recalibrateBatchNorm } from "../../src/train/precise_batch_norm.ts";
import { mulberry32 } from "../../src/util/random.ts";

/** x → Conv(1×1, weight w) → BatchNorm (inference form, stale statistics) → y. */
function model() {
  const g = new GraphBuilder("bn");
  const x = g.input("x", "float32", [4, 2, 3, 3]);
  const w = g.initializer("w", "float32", [2, 0, 0.5, 1], [2, 2, 1, 1]);
  const h = g.op1("Conv", [x, w], {}, { dtype: "float32" });
  const scale = g.initializer("scale", "float32", [1, 1], [2]);
  const bias = g.initializer("bias", "float32", [0, 0], [2]);
  const mean = g.initializer("running_mean", "float32", [0, 0], [2]);
  const variance = g.initializer("running_var", "float32", [1, 1], [2]);
  g.output(g.op1("BatchNormalization", [h, scale, bias, mean, variance], { epsilon: { kind: "float", value: 1e-5 } }, { dtype: "float32" }), "y", "float32", [4, 2, 3, 3]);
  return g.model();
}

function floats(m: ReturnType<typeof model>, name: string): Float32Array {
  const t = m.graph!.initializer.find((i) => i.name === name)!;
  return t.floatData.length ? Float32Array.from(t.floatData) : new Float32Array(new Uint8Array(t.rawData).buffer);
}

describe("precise BatchNorm statistics", () => {
  const rand = mulberry32(5);
  const batches = [0, 1, 2].map((k) => ({ x: { type: "float32" as const, data: Float32Array.from({ length: 72 }, () => k + 2 * rand()), dims: [4, 2, 3, 3] } }));

  test("running mean and variance become those of all calibration batches after the conv", async () => {
    const out = await recalibrateBatchNorm(model(), () => batches);
    // Conv output channels: c0 = 2·x0, c1 = 0.5·x0 + x1 — population statistics over all batches (float64).
    const chans: number[][] = [[], []];
    for (const b of batches) {
      const d = b.x.data;
      for (let n = 0; n < 4; n++) {
        for (let p = 0; p < 9; p++) {
          const [x0, x1] = [d[(n * 2) * 9 + p]!, d[(n * 2 + 1) * 9 + p]!];
          chans[0]!.push(2 * x0);
          chans[1]!.push(0.5 * x0 + x1);
        }
      }
    }
    const mean = floats(out, "running_mean");
    const variance = floats(out, "running_var");
    chans.forEach((v, c) => {
      const mu = v.reduce((a, b) => a + b, 0) / v.length;
      const s2 = v.reduce((a, b) => a + (b - mu) ** 2, 0) / v.length;
      expect(mean[c]!).toBeCloseTo(mu, 4);
      expect(variance[c]!).toBeCloseTo(s2, 4);
    });
    // The recalibrated model normalises the calibration data: per-channel mean ≈ 0, variance ≈ 1.
    const s = await RankSortSession.create(encodeModel(out), { executionProvider: "cpu" });
    const ys = await Promise.all(batches.map((b) => s.run(b)));
    for (let c = 0; c < 2; c++) {
      const v: number[] = [];
      for (const y of ys) for (let n = 0; n < 4; n++) for (let p = 0; p < 9; p++) v.push((y.y!.data as Float32Array)[(n * 2 + c) * 9 + p]!);
      const mu = v.reduce((a, b) => a + b, 0) / v.length;
      expect(Math.abs(mu)).toBeLessThan(1e-4);
      expect(v.reduce((a, b) => a + (b - mu) ** 2, 0) / v.length).toBeCloseTo(1, 3);
    }
    // The rest of the model is untouched.
    expect(Array.from(floats(out, "w"))).toEqual([2, 0, 0.5, 1]);
  });

  test("a model without BatchNorm comes back as is, without making batches", async () => {
    const g = new GraphBuilder("plain");
    const x = g.input("x", "float32", [2]);
    g.output(g.op1("Relu", [x], {}, { dtype: "float32" }), "y", "float32", [2]);
    const m = g.model();
    let made = false;
    expect(await recalibrateBatchNorm(m, () => ((made = true), []))).toBe(m);
    expect(made).toBe(false);
  });
});
