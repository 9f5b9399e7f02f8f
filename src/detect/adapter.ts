// How an exported detector's outputs map to anchors: levels with their strides and output names,
// class count, and the box coder. Presets name the ones ranksort knows; a JSON file of the same
// shape describes any other model.

import { readFileSync } from "node:fs";
import type { Value } from "../onnx/builder.ts";
import type { TensorOps } from "../onnx/tensor_ops.ts";
import { IMAGENET, type Normalisation } from "../data/batch.ts";
import { levelAnchors, levelsFor } from "./anchors.ts";
import { decodeDelta } from "./box_coders.ts";

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
  /**
   * "distance-exp": FCOS-style l, t, r, b = exp(min(x, 6))·stride from each location (1 anchor).
   * "delta-xywh": anchor-based deltas with means 0 and stds [0.1, 0.1, 0.2, 0.2] (RetinaNet/ATSS).
   */
  coder: "distance-exp" | "delta-xywh";
  /** Anchor size in strides (ATSS: 8; RetinaNet: 4 with 3 scales per octave). */
  anchorScale: number;
  /** Anchor shapes per location (default one square anchor). */
  scalesPerOctave?: number;
  ratios?: number[];
  /** Label assignment (default ATSS). */
  assigner?: "atss" | "max-iou";
  /**
   * Input normalisation the model was trained with, per channel on 0…255 values (default ImageNet,
   * what torchvision's detectors and mmdetection use; e.g. {mean: [127.5,127.5,127.5], std:
   * [127.5,127.5,127.5]} for a model trained on [-1, 1] inputs).
   */
  normalisation?: Normalisation;
  /**
   * SSD default boxes (torchvision's DefaultBoxGenerator) instead of stride-based anchors: boxes per
   * location = 2 + 2·aspectRatios.length, centred at ((x + ½)/f, (y + ½)/f) of the image.
   */
  ssdDefaultBoxes?: SSDDefaultBoxes;
  /**
   * Class outputs carry a background logit first for each anchor (SSD, trained with softmax).
   * ranksort drops it and trains the numClasses foreground logits as independent sigmoids.
   */
  backgroundChannel?: boolean;
}

export interface SSDDefaultBoxes {
  /** Feature map side per level (square maps). */
  featureSizes: number[];
  /** Box scale per level as a fraction of the image, plus one more (levels + 1 values). */
  scales: number[];
  /** Extra aspect ratios per location (each adds a w:h = r and an h:w = r box). */
  aspectRatios: number[];
}

/** Class channels per anchor in the model's class outputs (numClasses, plus background for SSD). */
export function classChannels(adapter: DetectorAdapter): number {
  return adapter.numClasses + (adapter.backgroundChannel ? 1 : 0);
}

/** The adapter's input normalisation, checked: three finite means and three positive stds. */
export function adapterNormalisation(adapter: DetectorAdapter): Normalisation {
  const n = adapter.normalisation;
  if (n === undefined) return IMAGENET;
  for (const key of ["mean", "std"] as const) {
    const v = n[key];
    if (!Array.isArray(v) || v.length !== 3 || v.some((x) => typeof x !== "number" || !Number.isFinite(x))) {
      throw new AdapterError(`adapter "${adapter.name}": normalisation.${key} must be three finite numbers (per channel, on 0…255 values); got ${JSON.stringify(v)}`);
    }
  }
  const bad = n.std.findIndex((x) => x <= 0);
  if (bad >= 0) throw new AdapterError(`adapter "${adapter.name}": normalisation.std[${bad}] must be > 0; got ${n.std[bad]}`);
  return n;
}

/** An adapter that is unknown, malformed, or does not fit the model it is used with. */
export class AdapterError extends Error {
  override name = "AdapterError";
}

/**
 * Checks an adapter against the model's output names and per-location channel counts where the
 * model declares them, so a wrong preset fails before training with the names involved.
 */
export function checkAdapterFitsModel(adapter: DetectorAdapter, outputs: readonly { name: string; channels?: number }[]): void {
  adapterNormalisation(adapter);
  const byName = new Map(outputs.map((o) => [o.name, o]));
  adapter.levels.forEach((level, i) => {
    for (const [role, name, per] of [["class logits", level.classes, classChannels(adapter)], ["box regression", level.boxes, 4]] as const) {
      const out = byName.get(name);
      if (!out) throw new AdapterError(`adapter "${adapter.name}": level ${i} expects ${role} in output "${name}", but the model's outputs are ${outputs.map((o) => o.name).join(", ")}`);
      if (out.channels !== undefined && out.channels % per !== 0) {
        throw new AdapterError(`adapter "${adapter.name}": output "${name}" (level ${i} ${role}) has ${out.channels} channels, not a multiple of ${per} per anchor`);
      }
    }
  });
}

export const DELTA_CODER = { kind: "delta-xywh" as const, means: [0, 0, 0, 0] as [number, number, number, number], stds: [0.1, 0.1, 0.2, 0.2] as [number, number, number, number] };

/** Levels of an export that emits class outputs out0…out(L−1), then box outputs outL…out(2L−1). */
function headOutputs(strides: number[]): AdapterLevel[] {
  return strides.map((stride, i) => ({ stride, classes: `out${i}`, boxes: `out${i + strides.length}` }));
}

/** Built-in adapters for the bundled and torchvision-style exports, by preset name. */
export const PRESETS: Record<string, DetectorAdapter> = {
  "tiny-fcos": {
    name: "tiny-fcos",
    numClasses: 3,
    imageSize: 128,
    levels: headOutputs([8, 16, 32]),
    coder: "distance-exp",
    anchorScale: 8,
  },
  // torchvision's FCOS / RetinaNet (ResNet-18-FPN, P3–P7) as models/export_torchvision.py exports
  // them, 3 classes (the synthetic data); an adapter JSON of the same shape sets other class counts.
  // Decoding is ranksort's (exp distances / 0.1-0.2 deltas), a choice when fine-tuning from scratch.
  "torchvision-fcos": {
    name: "torchvision-fcos",
    numClasses: 3,
    imageSize: 128,
    levels: headOutputs([8, 16, 32, 64, 128]),
    coder: "distance-exp",
    anchorScale: 8,
  },
  "torchvision-retinanet": {
    name: "torchvision-retinanet",
    numClasses: 3,
    imageSize: 128,
    levels: headOutputs([8, 16, 32, 64, 128]),
    coder: "delta-xywh",
    anchorScale: 4,
    scalesPerOctave: 3,
    ratios: [0.5, 1, 2],
    assigner: "max-iou",
  },
  "tiny-retinanet": {
    name: "tiny-retinanet",
    numClasses: 3,
    imageSize: 128,
    levels: headOutputs([8, 16, 32]),
    coder: "delta-xywh",
    anchorScale: 4,
    scalesPerOctave: 3,
    ratios: [0.5, 1, 2],
    assigner: "max-iou",
  },
  // torchvision's ssdlite320_mobilenet_v3_large at a 128² input (six maps: 8, 4, 2, 1, 1, 1), its
  // default boxes and [-1, 1] inputs; the softmax background logit is dropped for RS's sigmoids.
  "torchvision-ssdlite": {
    name: "torchvision-ssdlite",
    numClasses: 3,
    imageSize: 128,
    levels: headOutputs([0, 0, 0, 0, 0, 0]), // strides come from ssdDefaultBoxes
    coder: "delta-xywh",
    anchorScale: 0,
    ssdDefaultBoxes: { featureSizes: [8, 4, 2, 1, 1, 1], scales: [0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 1.0], aspectRatios: [2, 3] },
    backgroundChannel: true,
    assigner: "max-iou",
    normalisation: { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] },
  },
};

/** A preset by name, or else an adapter JSON file (same shape as the presets). */
export function loadAdapter(nameOrPath: string): DetectorAdapter {
  const preset = PRESETS[nameOrPath];
  if (preset) return preset;
  try {
    return JSON.parse(readFileSync(nameOrPath, "utf8")) as DetectorAdapter;
  } catch (e) {
    throw new AdapterError(`unknown preset "${nameOrPath}" (presets: ${Object.keys(PRESETS).join(", ")}) and not a readable adapter JSON: ${(e as Error).message}`);
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
  const ssd = adapter.ssdDefaultBoxes;
  if (ssd && (ssd.featureSizes.length !== adapter.levels.length || ssd.scales.length !== adapter.levels.length + 1)) {
    throw new AdapterError(`adapter "${adapter.name}": ssdDefaultBoxes needs one feature size per level (${adapter.levels.length}) and levels + 1 scales; got ${ssd.featureSizes.length} and ${ssd.scales.length}`);
  }
  const levels = ssd
    ? ssd.featureSizes.map((f) => ({ stride: adapter.imageSize / f, height: f, width: f }))
    : levelsFor(adapter.imageSize, adapter.imageSize, adapter.levels.map((l) => l.stride));
  const anchors = ssd
    ? ssd.featureSizes.map((_, k) => ssdLevelBoxes(ssd, k, adapter.imageSize))
    : levels.map((l) => levelAnchors(l, { octaveBaseScale: adapter.anchorScale, scalesPerOctave: adapter.scalesPerOctave ?? 1, ratios: adapter.ratios ?? [1] }));
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
  levels.forEach((l, li) => {
    for (let j = 0; j < anchors[li]!.length / 4; j++, i++) {
      points[2 * i] = (all[4 * i]! + all[4 * i + 2]!) / 2;
      points[2 * i + 1] = (all[4 * i + 1]! + all[4 * i + 3]!) / 2;
      strides[i] = l.stride;
    }
  });
  return { points, strides, anchors: all, perLevel: anchors.map((a) => a.length / 4) };
}

/** SSD default boxes [x1, y1, x2, y2] of level k in pixels, in the head's (y, x, box) order. */
export function ssdLevelBoxes(spec: SSDDefaultBoxes, k: number, imageSize: number): Float32Array {
  const f = spec.featureSizes[k]!;
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

/** In-graph delta-xywh decode against anchors [M, 4] (stds 0.1/0.2, dw/dh clamped as mmdetection). */
export function decodeDeltaInGraph(t: TensorOps, regression: Value, anchors: Value): Value {
  const col = (v: Value, i: number) => t.e.op1("Slice", [v, t.e.ints([i]), t.e.ints([i + 1]), t.e.ints([1])], {}, { dtype: "float32" });
  const f = (v: number) => t.scalar("float32", v);
  const clampRatio = Math.abs(Math.log(16 / 1000));
  const [ax1, ay1, ax2, ay2] = [0, 1, 2, 3].map((i) => col(anchors, i));
  const pw = t.sub(ax2!, ax1!);
  const ph = t.sub(ay2!, ay1!);
  const px = t.add(ax1!, t.mul(pw, f(0.5)));
  const py = t.add(ay1!, t.mul(ph, f(0.5)));
  const [dx, dy, dw, dh] = [0, 1, 2, 3].map((i) => t.mul(col(regression, i), f(DELTA_CODER.stds[i]!)));
  const gw = t.mul(pw, t.e.op1("Exp", [t.clip(dw!, f(-clampRatio), f(clampRatio))], {}, { dtype: "float32" }));
  const gh = t.mul(ph, t.e.op1("Exp", [t.clip(dh!, f(-clampRatio), f(clampRatio))], {}, { dtype: "float32" }));
  const gx = t.add(px, t.mul(pw, dx!));
  const gy = t.add(py, t.mul(ph, dy!));
  const hw = t.mul(gw, f(0.5));
  const hh = t.mul(gh, f(0.5));
  return t.concat([t.sub(gx, hw), t.sub(gy, hh), t.add(gx, hw), t.add(gy, hh)], 1);
}

/** Host decode of one image's raw regression (same formulas as in the graph). */
export function decodeForAdapter(adapter: DetectorAdapter, regression: Float32Array, layout: AnchorLayout): Float32Array {
  return adapter.coder === "delta-xywh" ? decodeDelta(DELTA_CODER, layout.anchors, regression) : decodeHost(regression, layout);
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
