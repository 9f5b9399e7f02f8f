// How an exported detector's outputs map to anchors: levels with their strides and output names,
// class count, and the box coder. Presets name the ones ranksort knows; a JSON file of the same
// shape describes any other model.

import { readFileSync } from "node:fs";
import type { Value } from "../onnx/builder.ts";
import type { TensorOps } from "../onnx/tensor_ops.ts";
import { levelAnchors, levelsFor } from "./anchors.ts";

export interface AdapterLevel {
  stride: number;
  /** Output with class logits [B, C, H, W]. */
  classes: string;
  /** Output with box regression [B, 4, H, W]. */
  boxes: string;
}

export interface DetectorAdapter {
  name: string;
  numClasses: number;
  imageSize: number;
  levels: AdapterLevel[];
  /** "distance-exp": FCOS-style l, t, r, b = exp(min(x, 6))·stride from each point. */
  coder: "distance-exp";
  /** ATSS anchor size in strides (the ATSS paper: 8). */
  anchorScale: number;
}

export const PRESETS: Record<string, DetectorAdapter> = {
  "tiny-fcos": {
    name: "tiny-fcos",
    numClasses: 3,
    imageSize: 128,
    levels: [
      { stride: 8, classes: "out0", boxes: "out3" },
      { stride: 16, classes: "out1", boxes: "out4" },
      { stride: 32, classes: "out2", boxes: "out5" },
    ],
    coder: "distance-exp",
    anchorScale: 8,
  },
};

export function loadAdapter(nameOrPath: string): DetectorAdapter {
  const preset = PRESETS[nameOrPath];
  if (preset) return preset;
  try {
    return JSON.parse(readFileSync(nameOrPath, "utf8")) as DetectorAdapter;
  } catch (e) {
    throw new Error(`unknown preset "${nameOrPath}" (presets: ${Object.keys(PRESETS).join(", ")}) and not a readable adapter JSON: ${(e as Error).message}`);
  }
}

/** Per-anchor layout for one image: centres, strides, ATSS anchor boxes, count per level. */
export interface AnchorLayout {
  points: Float32Array; // [N, 2]
  strides: Float32Array; // [N]
  anchors: Float32Array; // [N, 4]
  perLevel: number[];
}

export function anchorLayout(adapter: DetectorAdapter): AnchorLayout {
  const levels = levelsFor(adapter.imageSize, adapter.imageSize, adapter.levels.map((l) => l.stride));
  const anchors = levels.map((l) => levelAnchors(l, { octaveBaseScale: adapter.anchorScale, scalesPerOctave: 1, ratios: [1] }));
  const all = new Float32Array(anchors.reduce((a, b) => a + b.length, 0));
  let k = 0;
  for (const a of anchors) {
    all.set(a, k);
    k += a.length;
  }
  const N = all.length / 4;
  const points = new Float32Array(2 * N);
  const strides = new Float32Array(N);
  let i = 0;
  levels.forEach((l) => {
    for (let j = 0; j < l.height * l.width; j++, i++) {
      points[2 * i] = (all[4 * i]! + all[4 * i + 2]!) / 2;
      points[2 * i + 1] = (all[4 * i + 1]! + all[4 * i + 3]!) / 2;
      strides[i] = l.stride;
    }
  });
  return { points, strides, anchors: all, perLevel: levels.map((l) => l.height * l.width) };
}

/** Flatten level outputs [B, K, H, W] to [B·N, K] in anchor order (level, y, x). */
export function flattenLevels(t: TensorOps, outputs: Value[], channels: number): Value {
  const parts = outputs.map((o) => t.reshape(t.e.op1("Transpose", [o], { perm: [0, 2, 3, 1] }, { dtype: "float32" }), [0, -1, channels]));
  return t.reshape(t.concat(parts, 1), [-1, channels]);
}

/** In-graph decode: points [M, 2] and strides [M, 1] with raw regression [M, 4] → boxes [M, 4]. */
export function decodeInGraph(t: TensorOps, regression: Value, points: Value, strides: Value): Value {
  const d = t.mul(t.e.op1("Exp", [t.min(regression, t.scalar("float32", 6))], {}, { dtype: "float32" }), strides);
  const sign = t.e.constant("float32", [-1, -1, 1, 1], [1, 4]);
  const xyxy = t.concat([points, points], 1);
  return t.add(xyxy, t.mul(d, sign));
}

/** Host decode of one image's raw regression (same formula). */
export function decodeHost(regression: Float32Array, layout: AnchorLayout): Float32Array {
  const N = layout.strides.length;
  const out = new Float32Array(4 * N);
  for (let i = 0; i < N; i++) {
    const s = layout.strides[i]!;
    const [px, py] = [layout.points[2 * i]!, layout.points[2 * i + 1]!];
    const d = (k: number) => Math.exp(Math.min(regression[4 * i + k]!, 6)) * s;
    out[4 * i] = px - d(0);
    out[4 * i + 1] = py - d(1);
    out[4 * i + 2] = px + d(2);
    out[4 * i + 3] = py + d(3);
  }
  return out;
}
