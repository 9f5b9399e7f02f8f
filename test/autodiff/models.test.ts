// Whole-model gradients: torchvision-style detectors exported by models/export_fixtures.py, whose
// PyTorch autograd gradients are saved beside them. Tolerance: rel 1e-3 per tensor (norm-wise), with
// a floor of 1e-6 × the largest gradient norm in the model: conv biases right before a GroupNorm
// have gradients that cancel to ~1e-6 of the others, where both float32 computations are noise.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import * as ort from "onnxruntime-node";
import { buildGradientModel } from "../../src/autodiff/gradient_graph.ts";
import { encodeModel } from "../../src/onnx/model_codec.ts";
import { readModel } from "../../src/onnx/model_io.ts";

const fixtures = resolve(import.meta.dir, "..", "..", "models", "fixtures");
type Tensor = { dims: number[]; data: number[] };

describe("gradients of exported detectors equal PyTorch autograd", () => {
  for (const name of ["tiny_fcos", "tiny_retinanet", "tiny_ssdlite"]) {
    const gradsFile = join(fixtures, `${name}.grads.json.gz`);
    test.skipIf(!existsSync(gradsFile))(name, async () => {
      const fx = JSON.parse(gunzipSync(readFileSync(gradsFile)).toString()) as { inputs: Record<string, Tensor>; cotangents: Record<string, Tensor>; gradients: Record<string, Tensor> };
      const model = readModel(join(fixtures, `${name}.onnx`));
      const grad = buildGradientModel(model);
      const session = await ort.InferenceSession.create(encodeModel(grad.model));
      const feeds: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(fx.inputs)) feeds[k] = new ort.Tensor("float32", Float32Array.from(v.data), v.dims);
      for (const [k, v] of Object.entries(fx.cotangents)) feeds[grad.cotangents[k]!] = new ort.Tensor("float32", Float32Array.from(v.data), v.dims);
      const out = await session.run(feeds);
      const params = Object.keys(fx.gradients);
      const normOf = (v: number[]) => Math.sqrt(v.reduce((a, b) => a + b * b, 0));
      const floor = 1e-6 * Math.max(...params.map((p) => normOf(fx.gradients[p]!.data)));
      expect(params.length).toBeGreaterThan(20);
      const worst: string[] = [];
      for (const p of params) {
        const ours = out[grad.gradients[p]!]!.data as Float32Array;
        const ref = fx.gradients[p]!.data;
        expect(ours.length).toBe(ref.length);
        let diff = 0;
        let norm = 0;
        for (let i = 0; i < ref.length; i++) {
          diff += (ours[i]! - ref[i]!) ** 2;
          norm += ref[i]! ** 2;
        }
        const rel = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-12);
        if (!(Math.sqrt(diff) <= 1e-3 * Math.sqrt(norm) + floor)) worst.push(`${p}: relative error ${rel.toExponential(2)} (|ref| ${Math.sqrt(norm).toExponential(2)}, |Δ| ${Math.sqrt(diff).toExponential(2)})`);
      }
      expect(worst).toEqual([]);
    }, 120_000);
  }
});
