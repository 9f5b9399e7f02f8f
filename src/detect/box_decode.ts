// Decoding a head's box regression into boxes, identically in a train-step graph and on the host:
// distance-exp (ranksort's FCOS form), delta-xywh (mmdetection's or torchvision's BoxCoder by its
// weights and clamp), distance-linear (torchvision FCOS's BoxLinearCoder).

import type { Value } from "../onnx/builder.ts";
import type { TensorOps } from "../onnx/tensor_ops.ts";
import type { DetectorAdapter } from "./adapter.ts";
import type { AnchorLayout } from "./anchor_layout.ts";
import { DELTA_CODER } from "./presets.ts";

const DEFAULT_CLAMP = Math.abs(Math.log(16 / 1000));

/** Per-coordinate multipliers of the deltas (1 / weights; mmdetection's stds by default) and the dw/dh clamp. */
export function deltaParameters(adapter: DetectorAdapter): { multipliers: number[]; clamp: number; symmetric: boolean } {
  const o = adapter.deltaCoder;
  return {
    multipliers: o?.weights ? o.weights.map((w) => 1 / w) : [...DELTA_CODER.stds],
    clamp: o?.clamp ?? DEFAULT_CLAMP,
    symmetric: o?.symmetricClamp ?? true,
  };
}

/** Flatten level outputs [B, K, H, W] to [B·N, K] in anchor order (level, y, x). */
export function flattenLevels(t: TensorOps, outputs: Value[], channels: number): Value {
  const parts = outputs.map((o) => t.reshape(t.e.op1("Transpose", [o], { perm: [0, 2, 3, 1] }, { dtype: "float32" }), [0, -1, channels]));
  return t.reshape(t.concat(parts, 1), [-1, channels]);
}

/** Graph inputs a coder decodes against, per anchor row of the batch. */
export interface DecodeInputs {
  points?: Value; // [M, 2]
  strides?: Value; // [M, 1]
  anchors?: Value; // [M, 4]
}

/** The decode inputs a coder needs (names of the feeds makeBatch provides). */
export function decodeFeeds(adapter: DetectorAdapter): ("anchor_points" | "anchor_strides" | "anchor_boxes")[] {
  return adapter.coder === "distance-exp" ? ["anchor_points", "anchor_strides"] : ["anchor_boxes"];
}

/** In-graph decode of raw regression [M, 4] into boxes [M, 4]. */
export function decodeBoxesInGraph(t: TensorOps, adapter: DetectorAdapter, regression: Value, inputs: DecodeInputs): Value {
  if (adapter.coder === "distance-exp") return decodeInGraph(t, regression, inputs.points!, inputs.strides!);
  if (adapter.coder === "distance-linear") return decodeLinearInGraph(t, regression, inputs.anchors!);
  return decodeDeltaInGraph(t, regression, inputs.anchors!, adapter);
}

const col = (t: TensorOps, v: Value, i: number) => t.e.op1("Slice", [v, t.e.ints([i]), t.e.ints([i + 1]), t.e.ints([1])], {}, { dtype: "float32" });

/** In-graph decode: points [M, 2] and strides [M, 1] with raw regression [M, 4] → boxes [M, 4]. */
export function decodeInGraph(t: TensorOps, regression: Value, points: Value, strides: Value): Value {
  const d = t.mul(t.e.op1("Exp", [t.min(regression, t.scalar("float32", 6))], {}, { dtype: "float32" }), strides);
  const sign = t.e.constant("float32", [-1, -1, 1, 1], [1, 4]);
  const xyxy = t.concat([points, points], 1);
  return t.add(xyxy, t.mul(d, sign));
}

/** torchvision BoxLinearCoder (normalised by size): relu(x)·(w, h, w, h) from the anchor centre. */
function decodeLinearInGraph(t: TensorOps, regression: Value, anchors: Value): Value {
  const f = (v: number) => t.scalar("float32", v);
  const [ax1, ay1, ax2, ay2] = [0, 1, 2, 3].map((i) => col(t, anchors, i));
  const w = t.sub(ax2!, ax1!);
  const h = t.sub(ay2!, ay1!);
  const cx = t.mul(t.add(ax1!, ax2!), f(0.5));
  const cy = t.mul(t.add(ay1!, ay2!), f(0.5));
  const d = t.mul(t.e.op1("Relu", [regression], {}, { dtype: "float32" }), t.concat([w, h, w, h], 1));
  return t.add(t.concat([cx, cy, cx, cy], 1), t.mul(d, t.e.constant("float32", [-1, -1, 1, 1], [1, 4])));
}

/** In-graph delta-xywh decode against anchors [M, 4] (the adapter's weights and clamp; mmdetection's by default). */
export function decodeDeltaInGraph(t: TensorOps, regression: Value, anchors: Value, adapter?: DetectorAdapter): Value {
  const f = (v: number) => t.scalar("float32", v);
  const { multipliers, clamp, symmetric } = adapter ? deltaParameters(adapter) : { multipliers: [...DELTA_CODER.stds], clamp: DEFAULT_CLAMP, symmetric: true };
  const [ax1, ay1, ax2, ay2] = [0, 1, 2, 3].map((i) => col(t, anchors, i));
  const pw = t.sub(ax2!, ax1!);
  const ph = t.sub(ay2!, ay1!);
  const px = t.add(ax1!, t.mul(pw, f(0.5)));
  const py = t.add(ay1!, t.mul(ph, f(0.5)));
  const [dx, dy, dw, dh] = [0, 1, 2, 3].map((i) => (multipliers[i] === 1 ? col(t, regression, i) : t.mul(col(t, regression, i), f(multipliers[i]!))));
  const limit = (v: Value) => (symmetric ? t.clip(v, f(-clamp), f(clamp)) : t.min(v, f(clamp)));
  const gw = t.mul(pw, t.e.op1("Exp", [limit(dw!)], {}, { dtype: "float32" }));
  const gh = t.mul(ph, t.e.op1("Exp", [limit(dh!)], {}, { dtype: "float32" }));
  const gx = t.add(px, t.mul(pw, dx!));
  const gy = t.add(py, t.mul(ph, dy!));
  const hw = t.mul(gw, f(0.5));
  const hh = t.mul(gh, f(0.5));
  return t.concat([t.sub(gx, hw), t.sub(gy, hh), t.add(gx, hw), t.add(gy, hh)], 1);
}

/** Host decode of one image's raw regression [N, 4] (the same formulas as in the graph). */
export function decodeForAdapter(adapter: DetectorAdapter, regression: Float32Array, layout: AnchorLayout): Float32Array {
  if (adapter.coder === "distance-exp") return decodeHost(regression, layout);
  const N = layout.strides.length;
  const out = new Float32Array(4 * N);
  const A = layout.anchors;
  if (adapter.coder === "distance-linear") {
    for (let i = 0; i < N; i++) {
      const [x1, y1, x2, y2] = [A[4 * i]!, A[4 * i + 1]!, A[4 * i + 2]!, A[4 * i + 3]!];
      const [w, h, cx, cy] = [x2 - x1, y2 - y1, (x1 + x2) * 0.5, (y1 + y2) * 0.5];
      const r = (k: number) => Math.max(regression[4 * i + k]!, 0);
      out[4 * i] = cx - r(0) * w;
      out[4 * i + 1] = cy - r(1) * h;
      out[4 * i + 2] = cx + r(2) * w;
      out[4 * i + 3] = cy + r(3) * h;
    }
    return out;
  }
  const { multipliers: m, clamp, symmetric } = deltaParameters(adapter);
  const limit = (v: number) => (symmetric ? Math.max(-clamp, Math.min(clamp, v)) : Math.min(clamp, v));
  for (let i = 0; i < N; i++) {
    const d = [0, 1, 2, 3].map((k) => regression[4 * i + k]! * m[k]!);
    const [pw, ph] = [A[4 * i + 2]! - A[4 * i]!, A[4 * i + 3]! - A[4 * i + 1]!];
    const [px, py] = [A[4 * i]! + 0.5 * pw, A[4 * i + 1]! + 0.5 * ph];
    const [gw, gh] = [pw * Math.exp(limit(d[2]!)), ph * Math.exp(limit(d[3]!))];
    const [gx, gy] = [px + pw * d[0]!, py + ph * d[1]!];
    out[4 * i] = gx - 0.5 * gw;
    out[4 * i + 1] = gy - 0.5 * gh;
    out[4 * i + 2] = gx + 0.5 * gw;
    out[4 * i + 3] = gy + 0.5 * gh;
  }
  return out;
}

/** Host decode of one image's raw regression (distance-exp). */
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
