// Finite-difference checks of gradient graphs: build a one-op (or few-op) model, differentiate it,
import { expect, test } from "bun:test";
// and compare with central differences of Σ output·cotangent computed by onnxruntime itself.

import * as ort from "onnxruntime-node";
import { buildGradientModel } from "../../src/autodiff/gradient_graph.ts";
import { type DTypeName, GraphBuilder, type Value } from "../../src/onnx/builder.ts";
import { encodeModel } from "../../src/onnx/model_codec.ts";
import { mulberry32 } from "../../src/util/random.ts";

export interface CheckInput {
  name: string;
  shape: number[];
  /** Values (default: uniform in [lo, hi)). */
  data?: number[];
  lo?: number;
  hi?: number;
  /** Not differentiated (indices, conditions…) when false. */
  differentiable?: boolean;
  dtype?: DTypeName;
  /** Declare the graph input with symbolic dims (shape unknown before running). */
  symbolic?: boolean;
}

export interface CheckResult {
  worst: number;
  checked: number;
  report: string[];
}

type Typed = Float32Array | Float64Array | BigInt64Array | Uint8Array;

function makeArray(dtype: DTypeName, values: number[]): Typed {
  if (dtype === "float64") return Float64Array.from(values);
  if (dtype === "int64") return BigInt64Array.from(values, (v) => BigInt(v));
  if (dtype === "bool") return Uint8Array.from(values);
  return Float32Array.from(values);
}

/**
 * Gradient of Σ_k outputs_k · cotangent_k for every differentiable input, checked against central
 * differences on up to `samples` elements per input. Returns the worst |Δ| / (abs + rel·|fd|).
 */
export async function checkGradient(
  build: (g: GraphBuilder, inputs: Record<string, Value>) => Value[],
  inputs: CheckInput[],
  opts: { dtype?: DTypeName; seed?: number; h?: number; abs?: number; rel?: number; samples?: number; opset?: number } = {},
): Promise<CheckResult> {
  const dtype = opts.dtype ?? "float64";
  const rand = mulberry32(opts.seed ?? 1);
  const g = new GraphBuilder("check", { "": opts.opset ?? 17 });
  const vals: Record<string, Value> = {};
  const data: Record<string, number[]> = {};
  for (const inp of inputs) {
    const d = inp.dtype ?? dtype;
    vals[inp.name] = g.input(inp.name, d, inp.symbolic ? inp.shape.map((_, i) => `${inp.name}_d${i}`) : inp.shape);
    const n = inp.shape.reduce((a, b) => a * b, 1);
    data[inp.name] = inp.data ?? Array.from({ length: n }, () => (inp.lo ?? -1) + ((inp.hi ?? 1) - (inp.lo ?? -1)) * rand());
  }
  const outs = build(g, vals);
  outs.forEach((o, i) => g.output(o, `out${i}`, dtype));
  const model = g.model();
  const wrt = inputs.filter((i) => i.differentiable !== false).map((i) => i.name);
  const grad = buildGradientModel(model, { wrt, outputs: outs.map((_, i) => `out${i}`) });
  const forward = await ort.InferenceSession.create(encodeModel(model));
  const backward = await ort.InferenceSession.create(encodeModel(grad.model));
  const feeds = (over: Record<string, number[]> = {}) => {
    const f: Record<string, ort.Tensor> = {};
    for (const inp of inputs) f[inp.name] = new ort.Tensor(inp.dtype ?? dtype, makeArray(inp.dtype ?? dtype, over[inp.name] ?? data[inp.name]!) as never, inp.shape);
    return f;
  };
  const first = await forward.run(feeds());
  const cot: Record<string, number[]> = {};
  const bfeeds = feeds();
  outs.forEach((_, i) => {
    const o = first[`out${i}`]!;
    cot[`out${i}`] = Array.from({ length: o.data.length }, () => rand() * 2 - 1);
    bfeeds[grad.cotangents[`out${i}`]!] = new ort.Tensor(dtype, makeArray(dtype, cot[`out${i}`]!) as never, o.dims);
  });
  const grads = await backward.run(bfeeds);
  const objective = async (over: Record<string, number[]>) => {
    const r = await forward.run(feeds(over));
    let s = 0;
    outs.forEach((_, i) => (r[`out${i}`]!.data as Float64Array).forEach((v, k) => (s += Number(v) * cot[`out${i}`]![k]!)));
    return s;
  };
  const h = opts.h ?? (dtype === "float64" ? 1e-6 : 1e-2);
  const abs = opts.abs ?? (dtype === "float64" ? 1e-7 : 2e-3);
  const rel = opts.rel ?? (dtype === "float64" ? 1e-5 : 2e-2);
  let worst = 0;
  let checked = 0;
  const report: string[] = [];
  for (const name of wrt) {
    const gArr = grads[grad.gradients[name]!]!.data as Float64Array;
    const base = data[name]!;
    const picks = Array.from({ length: Math.min(opts.samples ?? 6, base.length) }, (_, k) => Math.floor((k * base.length) / Math.min(opts.samples ?? 6, base.length)));
    for (const k of picks) {
      const plus = base.slice();
      plus[k] = base[k]! + h;
      const minus = base.slice();
      minus[k] = base[k]! - h;
      const fd = ((await objective({ [name]: plus })) - (await objective({ [name]: minus }))) / (2 * h);
      const err = Math.abs(Number(gArr[k]) - fd) / (abs + rel * Math.abs(fd));
      checked++;
      if (err > worst) worst = err;
      if (err > 1) report.push(`${name}[${k}]: graph ${gArr[k]}, finite difference ${fd}`);
    }
  }
  return { worst, checked, report };
}

/** A named finite-difference case: build, inputs, and options for checkGradient. */
export type GradientCase = [string, Parameters<typeof checkGradient>[0], CheckInput[], Parameters<typeof checkGradient>[2]?];

/** One test per case; `defaults` apply under each case's own options. */
export function gradientCaseTests(cases: readonly GradientCase[], defaults: Parameters<typeof checkGradient>[2] = {}): void {
  for (const [name, build, inputs, opts] of cases) {
    test(name, async () => {
      const r = await checkGradient(build, inputs, { ...defaults, ...opts });
      expect(r.report).toEqual([]);
      expect(r.checked).toBeGreaterThan(0);
    });
  }
}
