// Per-anchor geometry of a detector's heads in the order they flatten (level, y, x, anchor):
// centres, strides, the anchors the box coder decodes against, and the anchors assignment uses.

import { levelAnchors, levelsFor, type LevelSpec } from "./anchors.ts";
import { AdapterError, type AnchorGeneratorSpec, type DetectorAdapter, type SSDDefaultBoxes } from "./adapter.ts";

/** Per-anchor layout for one image: centres, strides, anchor boxes, count per level. */
export interface AnchorLayout {
  points: Float32Array; // [N, 2]
  strides: Float32Array; // [N]
  /** Boxes the coder decodes against [N, 4]. */
  anchors: Float32Array;
  /** Boxes label assignment measures IoU with [N, 4] (point coders: anchorScale·stride squares at the points). */
  assignAnchors: Float32Array;
  perLevel: number[];
}

/** Feature-map sizes per level: measured from the heads when known, else from the network size. */
export type LevelShapes = readonly { height: number; width: number }[];

export function anchorLayout(adapter: DetectorAdapter, shapes?: LevelShapes): AnchorLayout {
  const ssd = adapter.ssdDefaultBoxes;
  const net = adapter.networkSize ?? adapter.imageSize;
  if (ssd && ((ssd.featureSizes && ssd.featureSizes.length !== adapter.levels.length) || ssd.scales.length !== adapter.levels.length + 1)) {
    throw new AdapterError(`adapter "${adapter.name}": ssdDefaultBoxes needs one feature size per level (${adapter.levels.length}) and levels + 1 scales; got ${ssd.featureSizes?.length} and ${ssd.scales.length}`);
  }
  const levels: LevelSpec[] = ssd
    ? adapter.levels.map((_, k) => {
        const f = shapes?.[k] ?? { height: ssd.featureSizes![k]!, width: ssd.featureSizes![k]! };
        return { stride: net / f.height, height: f.height, width: f.width };
      })
    : shapes
      ? adapter.levels.map((l, k) => ({ stride: l.stride, height: shapes[k]!.height, width: shapes[k]!.width }))
      : levelsFor(net, net, adapter.levels.map((l) => l.stride));
  const gen = adapter.anchorGenerator;
  if (gen && gen.sizes.length !== adapter.levels.length) throw new AdapterError(`adapter "${adapter.name}": anchorGenerator.sizes needs one list per level (${adapter.levels.length}); got ${gen.sizes.length}`);
  const anchors = levels.map((l, k) =>
    ssd ? ssdLevelBoxes(ssd, k, net, l.height) : gen ? torchvisionAnchors(l, gen.sizes[k]!, gen.ratios) : levelAnchors(l, { octaveBaseScale: adapter.anchorScale, scalesPerOctave: adapter.scalesPerOctave ?? 1, ratios: adapter.ratios ?? [1] }),
  );
  const all = concat(anchors);
  const N = all.length / 4;
  const points = new Float32Array(2 * N);
  const strides = new Float32Array(N);
  let i = 0;
  levels.forEach((l, li) => {
    for (let j = 0; j < anchors[li]!.length / 4; j++, i++) {
      points[2 * i] = (all[4 * i]! + all[4 * i + 2]!) / 2;
      points[2 * i + 1] = (all[4 * i + 1]! + all[4 * i + 3]!) / 2;
      strides[i] = l.stride;
    }
  });
  // Point coders decode from a location; ATSS still needs boxes there to measure IoU with.
  let assignAnchors = all;
  if (adapter.coder !== "delta-xywh" && gen) {
    assignAnchors = new Float32Array(4 * N);
    const scale = adapter.anchorScale || 8;
    for (let a = 0; a < N; a++) {
      const h = (scale * strides[a]!) / 2;
      assignAnchors.set([points[2 * a]! - h, points[2 * a + 1]! - h, points[2 * a]! + h, points[2 * a + 1]! + h], 4 * a);
    }
  }
  return { points, strides, anchors: all, assignAnchors, perLevel: anchors.map((a) => a.length / 4) };
}

function concat(parts: Float32Array[]): Float32Array {
  const all = new Float32Array(parts.reduce((a, b) => a + b.length, 0));
  let k = 0;
  for (const a of parts) {
    all.set(a, k);
    k += a.length;
  }
  return all;
}

/** Round half to even, as torch.round does (base anchors of 101 px have ±50.5 edges). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision's AnchorGenerator for one level, in float32 as it computes: h_ratios = √r,
 * w_ratios = 1/h_ratios, base = round([−w, −h, w, h] / 2) (ratio outer, size inner), shifted by
 * (x·stride, y·stride).
 */
export function torchvisionAnchors(level: LevelSpec, sizes: readonly number[], ratios: readonly number[]): Float32Array {
  const f = Math.fround;
  const base: number[][] = [];
  for (const r of ratios) {
    const hr = f(Math.sqrt(f(r)));
    const wr = f(1 / hr);
    for (const s of sizes) {
      const ws = f(wr * f(s));
      const hs = f(hr * f(s));
      base.push([roundHalfEven(f(-ws / 2)), roundHalfEven(f(-hs / 2)), roundHalfEven(f(ws / 2)), roundHalfEven(f(hs / 2))]);
    }
  }
  const out = new Float32Array(level.height * level.width * base.length * 4);
  let k = 0;
  for (let y = 0; y < level.height; y++) {
    for (let x = 0; x < level.width; x++) {
      for (const b of base) {
        out[k++] = x * level.stride + b[0]!;
        out[k++] = y * level.stride + b[1]!;
        out[k++] = x * level.stride + b[2]!;
        out[k++] = y * level.stride + b[3]!;
      }
    }
  }
  return out;
}

/** SSD default boxes [x1, y1, x2, y2] of level k in pixels, in the head's (y, x, box) order. */
export function ssdLevelBoxes(spec: SSDDefaultBoxes, k: number, imageSize: number, featureSize = spec.featureSizes![k]!): Float32Array {
  const f = featureSize;
  const s = spec.scales[k]!;
  const clip = (v: number) => Math.min(Math.max(v, 0), 1); // torchvision clips w, h to the image
  const sizes: [number, number][] = [[s, s], [Math.sqrt(s * spec.scales[k + 1]!), Math.sqrt(s * spec.scales[k + 1]!)]];
  for (const r of spec.aspectRatios) {
    sizes.push([s * Math.sqrt(r), s / Math.sqrt(r)], [s / Math.sqrt(r), s * Math.sqrt(r)]);
  }
  const out = new Float32Array(f * f * sizes.length * 4);
  let i = 0;
  for (let y = 0; y < f; y++) {
    for (let x = 0; x < f; x++) {
      const [cx, cy] = [(x + 0.5) / f, (y + 0.5) / f];
      for (const [w, h] of sizes) {
        out[i++] = (cx - clip(w) / 2) * imageSize;
        out[i++] = (cy - clip(h) / 2) * imageSize;
        out[i++] = (cx + clip(w) / 2) * imageSize;
        out[i++] = (cy + clip(h) / 2) * imageSize;
      }
    }
  }
  return out;
}

export type { AnchorGeneratorSpec };
