// Box coders: how a head's regression outputs relate anchors (or points) to boxes.
//   delta-xywh (RetinaNet, ATSS, SSD): (dx, dy, dw, dh) normalised by means/stds, as mmdetection's
//     DeltaXYWHBBoxCoder; decode clamps dw/dh to log(1000/16) like it.
//   distance l-t-r-b (FCOS): distances from a point to the four sides, divided by a stride.

import type { Boxes } from "./boxes.ts";

export interface DeltaXYWHCoder {
  kind: "delta-xywh";
  means: [number, number, number, number];
  stds: [number, number, number, number];
}

export interface DistanceCoder {
  kind: "distance";
  /** Divide distances by this per-point normaliser (FCOS: the level's stride); 1 when absent. */
  normalize?: boolean;
}

export type BoxCoder = DeltaXYWHCoder | DistanceCoder;

const MAX_RATIO = Math.abs(Math.log(16 / 1000));

/** Encode targets relative to anchors [x1, y1, x2, y2]: 4 numbers per anchor. */
export function encodeDelta(coder: DeltaXYWHCoder, anchors: Boxes, targets: Boxes): Float32Array {
  const out = new Float32Array(anchors.length);
  for (let i = 0; i < anchors.length; i += 4) {
    const [pw, ph] = [anchors[i + 2]! - anchors[i]!, anchors[i + 3]! - anchors[i + 1]!];
    const [px, py] = [anchors[i]! + 0.5 * pw, anchors[i + 1]! + 0.5 * ph];
    const [gw, gh] = [targets[i + 2]! - targets[i]!, targets[i + 3]! - targets[i + 1]!];
    const [gx, gy] = [targets[i]! + 0.5 * gw, targets[i + 1]! + 0.5 * gh];
    const d = [(gx - px) / pw, (gy - py) / ph, Math.log(gw / pw), Math.log(gh / ph)];
    for (let k = 0; k < 4; k++) out[i + k] = (d[k]! - coder.means[k]!) / coder.stds[k]!;
  }
  return out;
}

export function decodeDelta(coder: DeltaXYWHCoder, anchors: Boxes, deltas: Float32Array): Float32Array {
  const out = new Float32Array(anchors.length);
  for (let i = 0; i < anchors.length; i += 4) {
    const d = [0, 1, 2, 3].map((k) => deltas[i + k]! * coder.stds[k]! + coder.means[k]!);
    const dw = Math.max(-MAX_RATIO, Math.min(MAX_RATIO, d[2]!));
    const dh = Math.max(-MAX_RATIO, Math.min(MAX_RATIO, d[3]!));
    const [pw, ph] = [anchors[i + 2]! - anchors[i]!, anchors[i + 3]! - anchors[i + 1]!];
    const [px, py] = [anchors[i]! + 0.5 * pw, anchors[i + 1]! + 0.5 * ph];
    const [gw, gh] = [pw * Math.exp(dw), ph * Math.exp(dh)];
    const [gx, gy] = [px + pw * d[0]!, py + ph * d[1]!];
    out[i] = gx - 0.5 * gw;
    out[i + 1] = gy - 0.5 * gh;
    out[i + 2] = gx + 0.5 * gw;
    out[i + 3] = gy + 0.5 * gh;
  }
  return out;
}

/** Distances (l, t, r, b) from points (x, y pairs) to target boxes, divided by `scale` per point. */
export function encodeDistance(points: Float32Array, targets: Boxes, scale?: Float32Array): Float32Array {
  const out = new Float32Array(targets.length);
  for (let p = 0; p < points.length / 2; p++) {
    const [x, y] = [points[2 * p]!, points[2 * p + 1]!];
    const s = scale ? scale[p]! : 1;
    out[4 * p] = (x - targets[4 * p]!) / s;
    out[4 * p + 1] = (y - targets[4 * p + 1]!) / s;
    out[4 * p + 2] = (targets[4 * p + 2]! - x) / s;
    out[4 * p + 3] = (targets[4 * p + 3]! - y) / s;
  }
  return out;
}

export function decodeDistance(points: Float32Array, distances: Float32Array, scale?: Float32Array): Float32Array {
  const out = new Float32Array(distances.length);
  for (let p = 0; p < points.length / 2; p++) {
    const [x, y] = [points[2 * p]!, points[2 * p + 1]!];
    const s = scale ? scale[p]! : 1;
    out[4 * p] = x - distances[4 * p]! * s;
    out[4 * p + 1] = y - distances[4 * p + 1]! * s;
    out[4 * p + 2] = x + distances[4 * p + 2]! * s;
    out[4 * p + 3] = y + distances[4 * p + 3]! * s;
  }
  return out;
}
