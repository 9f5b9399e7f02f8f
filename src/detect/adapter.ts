// How an exported detector's outputs map to anchors: levels with their strides and output names,
// class count, and the box coder. Presets name the ones ranksort knows; a JSON file of the same
// shape describes any other model.

import { readFileSync } from "node:fs";
import { IMAGENET, type Normalisation } from "../data/batch.ts";
import { PRESETS } from "./presets.ts";

export { PRESETS };
export { anchorLayout, type AnchorLayout, ssdLevelBoxes } from "./anchor_layout.ts";
export { decodeDeltaInGraph, decodeForAdapter, decodeHost, decodeInGraph, flattenLevels } from "./box_decode.ts";

export interface AdapterLevel {
  stride: number;
  /** Class logits [B, A·K, H, W]: a graph output or any internal tensor (the graph is cut there). */
  classes: string;
  /** Box regression [B, A·4, H, W]. */
  boxes: string;
  /** Centerness logits [B, A, H, W] (torchvision FCOS), trained with BCE to the centerness target. */
  centerness?: string;
}

/** The model's image input. Read from the graph; an adapter field overrides. */
export interface AdapterInput {
  /** Input name (default: the model's only non-initializer input). */
  name?: string;
}

/** Anchor-based box deltas as torchvision's BoxCoder / mmdetection's DeltaXYWHBBoxCoder decode them. */
export interface DeltaCoderOptions {
  /**
   * Deltas are divided by these weights (wx, wy, ww, wh) before decoding: torchvision RetinaNet
   * (1, 1, 1, 1), torchvision SSD (10, 10, 5, 5); mmdetection's stds (0.1, 0.1, 0.2, 0.2) are weights
   * (10, 10, 5, 5). Default (10, 10, 5, 5).
   */
  weights?: [number, number, number, number];
  /** dw, dh are clamped to ≤ clamp (default log(1000/16)). */
  clamp?: number;
  /** Also clamp dw, dh ≥ −clamp (mmdetection: true, the default; torchvision: false). */
  symmetricClamp?: boolean;
}

/** torchvision's AnchorGenerator: base anchors rounded, centred at (x·stride, y·stride). */
export interface AnchorGeneratorSpec {
  /** Anchor sizes in pixels per level (one per scale). */
  sizes: number[][];
  /** Aspect ratios h/w. */
  ratios: number[];
}

/** Where the model's own post-processed detections are (for the drop-in check): output index or name. */
export interface ModelDetectionOutputs {
  boxes: number | string;
  scores: number | string;
  labels: number | string;
}

/** Post-processing as the model's own graph does it, so ranksort's evaluation equals it. */
export interface AdapterPostprocess {
  scoreThreshold?: number;
  nmsIoU?: number;
  maxDetections?: number;
  /** Candidates kept before NMS, per image, per level (torchvision RetinaNet/FCOS) or per class (SSD). */
  preNmsTopK?: number;
  topKPer?: "image" | "level" | "class";
  /** Clip boxes to the image before NMS (torchvision). */
  clip?: boolean;
}

/**
 * Model-native decode (YOLO-style single-output exports): the model decodes its own boxes and scores
 * into one tensor, and ranksort trains through that decode (see src/detect/native_decode.ts).
 */
export interface NativeDecode {
  /** The output tensor: [B, 4 + C, N] ("channels-first") or [B, N, 4 + C] ("channels-last"). */
  output: string;
  layout: "channels-first" | "channels-last";
  /** Box channels 0…3: centre and size (cx, cy, w, h) or corners (x1, y1, x2, y2), in input pixels. */
  boxFormat: "cxcywh" | "xyxy";
  /** Strides of the levels the N axis concatenates, in order (N = Σ ceil(S / stride)²). */
  strides: number[];
  /** The pre-sigmoid class logits; found by walking back from the output's Sigmoid when absent. */
  logits?: string;
  /** DFL bins per box side (informational; checked against the box branch's channels). */
  dflBins?: number;
}

export interface DetectorAdapter {
  name: string;
  /** Object classes (dataset categories). Read from the head's channels when absent. */
  numClasses: number;
  /** Square input side in pixels. Read from the model's static input dims when absent. */
  imageSize: number;
  input?: AdapterInput;
  levels: AdapterLevel[];
  /**
   * "distance-exp": FCOS-style l, t, r, b = exp(min(x, 6))·stride from each location (1 anchor).
   * "delta-xywh": anchor-based deltas (`deltaCoder`; default mmdetection's stds 0.1/0.2, RetinaNet/ATSS).
   * "distance-linear": torchvision FCOS's BoxLinearCoder: l, t, r, b = relu(x)·anchor size from the
   *   anchor centre.
   */
  coder: "distance-exp" | "delta-xywh" | "distance-linear" | "native";
  /** Model-native decode: the model's own output is trained and evaluated (coder "native", no levels). */
  native?: NativeDecode;
  deltaCoder?: DeltaCoderOptions;
  /** torchvision AnchorGenerator anchors instead of stride-based ones (torchvision exports). */
  anchorGenerator?: AnchorGeneratorSpec;
  /** Scores: sigmoid of the class logits (default), or √(σ(class)·σ(centerness)) (torchvision FCOS). */
  scoring?: "sigmoid" | "sigmoid-centerness";
  postprocess?: AdapterPostprocess;
  /** The model's own post-processed outputs (boxes, scores, labels): checked against ranksort's decode. */
  modelDetections?: ModelDetectionOutputs;
  /** Initializers that stay fixed: name globs, "backbone" or "bn" (folded BatchNorm constants). */
  frozen?: string[];
  /** Class names in channel order (optional; for class-set checks and reports). */
  classNames?: string[];
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
   * Class outputs carry a background channel first for each anchor:
   * - true: a softmax background logit that ranksort drops, training the numClasses foreground
   *   logits as independent sigmoids (raw-head SSD exports, decoded by ranksort);
   * - "unused": torchvision's label 0 under sigmoid scoring (RetinaNet, FCOS): never a target, so
   *   ranksort trains it as a negative everywhere and the model's own outputs stay clean;
   * - "softmax": the model scores with a softmax over background + classes (torchvision SSD): RS is
   *   trained on the foreground log-softmax, which ranks exactly as the model's own scores.
   */
  backgroundChannel?: boolean | "unused" | "softmax";
  /**
   * Side of the image the heads see when the graph resizes its input inside (torchvision transforms
   * resize to min_size). Default: the input size.
   */
  networkSize?: number;
}

export interface SSDDefaultBoxes {
  /** Feature map side per level (square maps); measured from the heads when absent. */
  featureSizes?: number[];
  /** Box scale per level as a fraction of the image, plus one more (levels + 1 values). */
  scales: number[];
  /** Extra aspect ratios per location (each adds a w:h = r and an h:w = r box). */
  aspectRatios: number[];
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

/** Reads a preset name or an adapter JSON file, checking its fields. */
export function loadAdapter(nameOrPath: string): DetectorAdapter {
  const preset = PRESETS[nameOrPath];
  if (preset) return preset;
  let text: string;
  try {
    text = readFileSync(nameOrPath, "utf8");
  } catch (e) {
    throw new AdapterError(`unknown preset "${nameOrPath}" (presets: ${Object.keys(PRESETS).join(", ")}) and not a readable adapter JSON: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new AdapterError(`${nameOrPath}: not valid JSON (${(e as Error).message})`);
  }
  return checkAdapterFields(json, nameOrPath);
}

/** Field checks for an adapter read from JSON: one message naming the field and what was expected. */
export function checkAdapterFields(json: unknown, label: string): DetectorAdapter {
  const a = json as Partial<DetectorAdapter>;
  const bad = (field: string, want: string) => new AdapterError(`${label}: "${field}" must be ${want}; got ${JSON.stringify((a as Record<string, unknown>)[field.split(/[.[]/)[0]!])}`);
  if (!a || typeof a !== "object" || Array.isArray(a)) throw new AdapterError(`${label}: an adapter is a JSON object (see \`ranksort inspect MODEL --out adapter.json\`)`);
  if (typeof a.name !== "string") a.name = label;
  if (a.native !== undefined) checkNativeFields(a, label);
  else if (!Array.isArray(a.levels) || !a.levels.length) throw bad("levels", "a non-empty array of {stride, classes, boxes}");
  (a.levels ?? []).forEach((l, i) => {
    if (!l || typeof l.classes !== "string" || typeof l.boxes !== "string" || typeof l.stride !== "number") throw bad(`levels[${i}]`, "{stride: number, classes: tensor name, boxes: tensor name}");
  });
  if (a.native === undefined && !["distance-exp", "delta-xywh", "distance-linear"].includes(a.coder as string)) throw bad("coder", '"distance-exp", "delta-xywh" or "distance-linear"');
  if (a.numClasses !== undefined && (!Number.isInteger(a.numClasses) || a.numClasses < 0)) throw bad("numClasses", "a positive integer (0 or absent: read from the model)");
  if (a.imageSize !== undefined && (!Number.isInteger(a.imageSize) || a.imageSize < 0)) throw bad("imageSize", "a positive integer (0 or absent: read from the model)");
  if (a.frozen !== undefined && (!Array.isArray(a.frozen) || a.frozen.some((f) => typeof f !== "string"))) throw bad("frozen", 'an array of name globs, "backbone" or "bn"');
  if (a.classNames !== undefined && (!Array.isArray(a.classNames) || a.classNames.some((n) => typeof n !== "string"))) throw bad("classNames", "an array of class names in channel order");
  if (a.anchorScale === undefined) a.anchorScale = 8;
  return a as DetectorAdapter;
}

/** Field checks of a model-native adapter (levels and coder are implied). */
function checkNativeFields(a: Partial<DetectorAdapter>, label: string): void {
  const n = a.native as Partial<NativeDecode>;
  const bad = (field: string, want: string) => new AdapterError(`${label}: "native.${field}" must be ${want}; got ${JSON.stringify((n as Record<string, unknown>)?.[field])}`);
  if (!n || typeof n !== "object") throw new AdapterError(`${label}: "native" must be an object {output, layout, boxFormat, strides}`);
  if (typeof n.output !== "string") throw bad("output", "the name of the model's output tensor");
  if (n.layout !== "channels-first" && n.layout !== "channels-last") throw bad("layout", '"channels-first" ([B, 4+C, N]) or "channels-last" ([B, N, 4+C])');
  if (n.boxFormat !== "cxcywh" && n.boxFormat !== "xyxy") throw bad("boxFormat", '"cxcywh" or "xyxy"');
  if (!Array.isArray(n.strides) || !n.strides.length || n.strides.some((s) => !Number.isInteger(s) || s < 1)) throw bad("strides", "a non-empty array of positive integers");
  if (n.logits !== undefined && typeof n.logits !== "string") throw bad("logits", "a tensor name");
  if (n.dflBins !== undefined && (!Number.isInteger(n.dflBins) || n.dflBins < 1)) throw bad("dflBins", "a positive integer");
  a.levels ??= [];
  a.coder = "native";
}
