// Binding an adapter to the model it describes: the image input read from the graph, the graph cut
// at the head tensors (which may be internal), the heads' shapes measured by one probe run, and the
// class count and anchor layout that follow. Training, evaluation and the drop-in check all start
// from a binding, so a preset that does not fit fails here, before any work, with what to do.

import { cutAtValues, definedValues } from "../onnx/cut.ts";
import type { ModelProto, ValueInfoProto } from "../onnx/proto.ts";
import { staticShapes } from "../autodiff/static_shape.ts";
import { untieExportTies } from "../autodiff/untie.ts";
import { RankSortSession } from "../runtime/session.ts";
import { AdapterError, type DetectorAdapter } from "./adapter.ts";
import { type AnchorLayout, anchorLayout } from "./anchor_layout.ts";
import { bindNative, type NativeBinding, nativeLayout } from "./native_decode.ts";

/** The model's image input: [3, H, W] (one image per run) or [B, 3, H, W] (B static or dynamic). */
export interface ModelImageInput {
  name: string;
  layout: "CHW" | "NCHW";
  /** Static batch size (CHW: 1); undefined when the batch dimension is dynamic. */
  staticBatch: number | undefined;
  size: number;
}

export interface BoundDetector {
  /** The adapter with numClasses and imageSize resolved from the model. */
  adapter: DetectorAdapter;
  input: ModelImageInput;
  /** The whole model, exporter ties untied: trained weights are written back into it. */
  model: ModelProto;
  /** The model cut at the head tensors (outputs = headNames): what training and evaluation run. */
  heads: ModelProto;
  headNames: string[];
  layout: AnchorLayout;
  /** Class channels per anchor (numClasses + a background channel when the model has one). */
  classChannels: number;
  /** Anchors per location, per level. */
  anchorsPerLocation: number[];
  /** Model-native decode (adapter "native"): the output, its logits and decode constants. */
  native?: NativeBinding;
}

function dims(v: ValueInfoProto | undefined): (number | string)[] | undefined {
  const t = v?.type?.value;
  if (t?.case !== "tensorType" || !t.value.shape) return undefined;
  return t.value.shape.dim.map((d) => (d.value.case === "dimValue" ? Number(d.value.value) : d.value.case === "dimParam" ? d.value.value : "?"));
}

/** The image input of `model`, checked (adapter fields override what the graph says). */
export function modelImageInput(model: ModelProto, adapter: DetectorAdapter, label: string): ModelImageInput {
  const g = model.graph!;
  const inits = new Set(g.initializer.map((t) => t.name));
  const inputs = g.input.filter((v) => !inits.has(v.name));
  const wanted = adapter.input?.name;
  const input = wanted ? inputs.find((v) => v.name === wanted) : inputs.length === 1 ? inputs[0] : undefined;
  if (!input) {
    throw new AdapterError(wanted ? `${label}: no input "${wanted}" (inputs: ${inputs.map((v) => v.name).join(", ")})` : `${label}: the model has ${inputs.length} inputs (${inputs.map((v) => v.name).join(", ")}); name the image input in the adapter ("input": {"name": …})`);
  }
  const shape = dims(input) ?? [];
  const notImage = () => new AdapterError(`${label}: input "${input.name}" is [${shape.join(", ")}] — not an image ([3, H, W] or [B, 3, H, W])`);
  if (shape.length !== 3 && shape.length !== 4) throw notImage();
  const [c, h, w] = shape.slice(-3);
  if (typeof c === "number" && c !== 3) throw notImage();
  const layout = shape.length === 3 ? "CHW" : "NCHW";
  const staticBatch = layout === "CHW" ? 1 : typeof shape[0] === "number" ? shape[0] : undefined;
  let size = adapter.imageSize || 0;
  if (typeof h === "number" && typeof w === "number") {
    if (h !== w) throw new AdapterError(`${label}: input "${input.name}" is ${h}×${w}; ranksort feeds square images (export with a square input)`);
    if (size && size !== h) throw new AdapterError(`${label}: the adapter says imageSize ${size}, but input "${input.name}" is ${h}×${w}`);
    size = h;
  }
  if (!size) throw new AdapterError(`${label}: input "${input.name}" has dynamic height/width [${shape.join(", ")}]; set "imageSize" in the adapter`);
  return { name: input.name, layout, staticBatch, size };
}

/** Names of the head tensors the adapter reads, level by level (classes, boxes, centerness). */
export function headTensorNames(adapter: DetectorAdapter): string[] {
  return adapter.levels.flatMap((l) => [l.classes, l.boxes, ...(l.centerness ? [l.centerness] : [])]);
}

/** Anchors per location the adapter's anchor scheme gives at level k. */
function expectedAnchors(adapter: DetectorAdapter, k: number): number {
  if (adapter.ssdDefaultBoxes) return 2 + 2 * adapter.ssdDefaultBoxes.aspectRatios.length;
  if (adapter.anchorGenerator) return adapter.anchorGenerator.sizes[k]!.length * adapter.anchorGenerator.ratios.length;
  return (adapter.ratios ?? [1]).length * (adapter.scalesPerOctave ?? 1);
}

const POSTPROCESS_OPS = new Set(["NonMaxSuppression", "TopK"]);

/** The head tensors' dims from static shapes (an unknown batch read as `batch`), if all are known. */
function staticHeadShapes(heads: ModelProto, names: readonly string[], batch: number): Record<string, readonly number[]> | undefined {
  const known = staticShapes(heads.graph!);
  const shapes: Record<string, readonly number[]> = {};
  for (const name of names) {
    const d = known.dims(name)?.map((v, k) => v ?? (k === 0 ? batch : undefined));
    if (!d?.every((v) => v !== undefined)) return undefined;
    shapes[name] = d as number[];
  }
  return shapes;
}

export async function bindDetector(source: ModelProto, adapter: DetectorAdapter, label = "model"): Promise<BoundDetector> {
  const model = untieExportTies(source).model;
  const input = modelImageInput(model, adapter, label);
  if (adapter.native) return bindNativeDetector(model, adapter, input, label);
  const g = model.graph!;
  const defined = definedValues(g);
  const outputs = g.output.map((o) => o.name);
  const postprocessed = g.node.some((n) => POSTPROCESS_OPS.has(n.opType));
  adapter.levels.forEach((level, i) => {
    for (const [role, name] of [["class logits", level.classes], ["box regression", level.boxes], ["centerness", level.centerness]] as const) {
      if (name === undefined || defined.has(name)) continue;
      const hint = postprocessed
        ? `this model's outputs (${outputs.join(", ")}) are post-processed detections: name the head tensors (see \`ranksort inspect ${label}\`)`
        : `the model's outputs are ${outputs.join(", ")} (see \`ranksort inspect ${label}\`)`;
      throw new AdapterError(`adapter "${adapter.name}": level ${i} expects ${role} in tensor "${name}", which ${label} does not have; ${hint}`);
    }
  });
  const headNames = headTensorNames(adapter);
  const heads = cutAtValues(model, headNames);
  const batch = input.staticBatch ?? 1;
  const S = input.size;
  // The heads' shapes (channels, feature-map sizes) are known before running for most exports;
  // otherwise one probe run on a blank image measures them (seconds for a ResNet-50 detector).
  const shapes = staticHeadShapes(heads, headNames, batch) ?? (await probeHeadShapes(heads, headNames, input, batch, label));
  const levelShapes: { height: number; width: number }[] = [];
  const anchorsPerLocation: number[] = [];
  let classChannels = 0;
  adapter.levels.forEach((level, i) => {
    const c = shapes[level.classes]!;
    const b = shapes[level.boxes]!;
    for (const [name, d] of [[level.classes, c], [level.boxes, b], ...(level.centerness ? [[level.centerness, shapes[level.centerness]!] as const] : [])] as const) {
      if (d.length !== 4) throw new AdapterError(`adapter "${adapter.name}": tensor "${name}" (level ${i}) has rank ${d.length} ([${d.join(", ")}]); a head tensor is [B, channels, H, W]${d.length === 3 ? "; a [B, 4+C, N] output of decoded boxes and scores is a YOLO-style export: describe it with a \"native\" adapter (ranksort inspect MODEL --out adapter.json)" : ""}`);
    }
    if (c[2] !== b[2] || c[3] !== b[3]) throw new AdapterError(`adapter "${adapter.name}": level ${i} class tensor is ${c[2]}×${c[3]} but its box tensor is ${b[2]}×${b[3]}: they are not the same level`);
    const A = expectedAnchors(adapter, i);
    if (b[1]! !== 4 * A) {
      const why = b[1]! % 4 === 0 ? ` (${b[1]} = 4 × ${b[1]! / 4}: ${b[1]! / 4} anchors per location, a different anchor setup${A === 1 && b[1]! / 4 >= 8 ? `, or DFL bins (${b[1]! / 4} per side), which need a model-native adapter` : ""})` : "";
      throw new AdapterError(`adapter "${adapter.name}": level ${i} box tensor "${level.boxes}" has ${b[1]} channels, expected 4 × ${A} anchors per location${why}; \`ranksort inspect ${label}\` says which preset fits`);
    }
    if (c[1]! % A !== 0) throw new AdapterError(`adapter "${adapter.name}": anchors per location disagree at level ${i}: the box tensor has ${A} (${b[1]} channels), but the class tensor's ${c[1]} channels are not a multiple of ${A}`);
    const K = c[1]! / A;
    if (classChannels && K !== classChannels) throw new AdapterError(`adapter "${adapter.name}": level ${i} has ${K} class channels per anchor, level 0 has ${classChannels}`);
    classChannels = K;
    if (level.centerness && shapes[level.centerness]![1] !== A) throw new AdapterError(`adapter "${adapter.name}": level ${i} centerness tensor has ${shapes[level.centerness]![1]} channels, expected ${A} (one per anchor)`);
    anchorsPerLocation.push(A);
    levelShapes.push({ height: c[2]!, width: c[3]! });
  });
  const background = adapter.backgroundChannel ? 1 : 0;
  const numClasses = classChannels - background;
  if (numClasses < 1) throw new AdapterError(`adapter "${adapter.name}": the class tensors have ${classChannels} channel per anchor, leaving no object class after the background channel`);
  if (adapter.numClasses && adapter.numClasses !== numClasses) {
    throw new AdapterError(`adapter "${adapter.name}" says ${adapter.numClasses} classes, but the model's class tensors have ${classChannels} channels per anchor${background ? " (background + " + numClasses + ")" : ""}`);
  }
  const resolved: DetectorAdapter = { ...adapter, numClasses, imageSize: S };
  return { adapter: resolved, input, model, heads, headNames, layout: anchorLayout(resolved, levelShapes), classChannels, anchorsPerLocation };
}

/** The head tensors' dims measured by one run of the cut model on a blank image. */
async function probeHeadShapes(heads: ModelProto, names: readonly string[], input: ModelImageInput, batch: number, label: string): Promise<Record<string, readonly number[]>> {
  const S = input.size;
  try {
    // Outside Node, Bun and Deno (a page, a worker) the probe runs on onnxruntime-web's WASM EP.
    const probe = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node ? "cpu" : "wasm";
    const out = await RankSortSession.runOnce(heads, { executionProvider: probe, optimization: "basic" }, { [input.name]: { type: "float32", data: new Float32Array(batch * 3 * S * S), dims: input.layout === "CHW" ? [3, S, S] : [batch, 3, S, S] } });
    return Object.fromEntries(names.map((n) => [n, out[n]!.dims]));
  } catch (e) {
    throw new AdapterError(`${label}: running the model up to its head tensors failed: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** A native adapter bound: the model cut at its output and logits, assignment geometry from the strides. */
async function bindNativeDetector(model: ModelProto, adapter: DetectorAdapter, input: ModelImageInput, label: string): Promise<BoundDetector> {
  const native = await bindNative(model, adapter, input, label);
  const C = native.modelClasses;
  if (adapter.numClasses && adapter.numClasses !== C) throw new AdapterError(`adapter "${adapter.name}" says ${adapter.numClasses} classes, but output "${native.output}" has ${C} class channels`);
  const headNames = [native.output, native.logits];
  const resolved: DetectorAdapter = { ...adapter, numClasses: C, imageSize: input.size, native: { ...adapter.native!, logits: native.logits } };
  const layout = nativeLayout(adapter.native!, input.size);
  return { adapter: resolved, input, model, heads: cutAtValues(model, headNames), headNames, layout, classChannels: C, anchorsPerLocation: adapter.native!.strides.map(() => 1), native };
}
