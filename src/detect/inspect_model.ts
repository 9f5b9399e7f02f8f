// What an exported detector is, read from its graph: the image input, the head tensors per level
// (leaf convolutions grouped by feature-map size, told apart by name and channel count), where
// post-processing starts, how BatchNorm was exported, and which preset fits — with a draft adapter.

import type { CocoDataset } from "../data/coco.ts";
import { cutAtValues } from "../onnx/cut.ts";
import type { ModelProto, NodeProto } from "../onnx/proto.ts";
import { RankSortSession } from "../runtime/session.ts";
import { untieExportTies } from "../autodiff/untie.ts";
import { AdapterError, type AdapterLevel, type DetectorAdapter } from "./adapter.ts";
import { headTensorNames, modelImageInput, type ModelImageInput } from "./detector_binding.ts";
import { PRESETS } from "./presets.ts";
import { inspectNative, type NativeInspection } from "./inspect_native.ts";

export interface HeadTensor {
  name: string;
  node: string;
  channels: number;
  height: number;
  width: number;
  role: "classes" | "boxes" | "centerness" | "unknown";
}

export interface InspectLevel {
  stride: number;
  height: number;
  width: number;
  tensors: HeadTensor[];
}

export interface Inspection {
  input: ModelImageInput;
  inputShape: (number | string)[];
  outputs: { name: string; shape: (number | string)[] }[];
  levels: InspectLevel[];
  anchorsPerLocation: number | undefined;
  classChannels: number | undefined;
  /** First post-processing node (TopK, NonMaxSuppression, NonZero) after the heads, if any. */
  postprocessing: { node: string; op: string } | undefined;
  batchNorm: "training-mode BatchNormalization nodes" | "BatchNormalization nodes (inference)" | "folded into Mul/Add constants (FrozenBN)" | "none (folded into Conv weights, or absent)";
  normalisesInside: boolean;
  preset: string | undefined;
  adapter: DetectorAdapter & { notes: string[] };
  notes: string[];
  /** A YOLO-style single output of decoded boxes and scores (model-native decode). */
  native?: NativeInspection;
}

function shapeOf(v: { type?: { value: { case?: string; value?: unknown } } } | undefined): (number | string)[] {
  const t = v?.type?.value;
  if (t?.case !== "tensorType") return [];
  const shape = (t.value as { shape?: { dim: { value: { case?: string; value?: unknown } }[] } }).shape;
  return shape?.dim.map((d) => (d.value.case === "dimValue" ? Number(d.value.value) : String(d.value.value ?? "?"))) ?? [];
}

/** Conv outputs from which no further Conv is reachable: the last layer of each head branch. */
function leafConvs(g: ModelProto["graph"] & object): NodeProto[] {
  const consumers = new Map<string, NodeProto[]>();
  for (const n of g.node) for (const i of n.input) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const reaches = new Map<string, boolean>();
  for (let k = g.node.length - 1; k >= 0; k--) {
    const n = g.node[k]!;
    const out = n.output.some((o) => (consumers.get(o) ?? []).some((c) => c.opType === "Conv" || reaches.get(c.output[0] ?? "")));
    for (const o of n.output) reaches.set(o, out);
  }
  return g.node.filter((n) => n.opType === "Conv" && !reaches.get(n.output[0]!));
}

function roleByName(name: string): HeadTensor["role"] {
  const s = name.toLowerCase();
  if (/ctr|center|centre/.test(s)) return "centerness";
  if (/cls|class|conf|score|logit/.test(s)) return "classes";
  if (/reg|box|bbox|loc/.test(s)) return "boxes";
  return "unknown";
}

export async function inspectModel(source: ModelProto, label: string, dataset?: CocoDataset): Promise<Inspection> {
  const model = untieExportTies(source).model;
  const g = model.graph!;
  const blank = { name: "inspect", levels: [], coder: "distance-exp", numClasses: 0, imageSize: 0, anchorScale: 8 } as DetectorAdapter;
  const input = modelImageInput(model, blank, label);
  const native = await inspectNative(model, input, label);
  if (native) return nativeInspection(model, input, native, label, dataset);
  const inits = new Set(g.initializer.map((t) => t.name));
  const notes: string[] = [];
  const leaves = leafConvs(g);
  if (!leaves.length) throw new AdapterError(`${label}: no convolution in the graph; ranksort inspects convolutional detectors`);
  // One run with the leaf convolutions exposed measures them.
  const S = input.size;
  const names = leaves.map((n) => n.output[0]!);
  let dims: Record<string, readonly number[]>;
  try {
    const batch = input.staticBatch ?? 1;
    const out = await RankSortSession.runOnce(cutAtValues(model, names), { executionProvider: "cpu", optimization: "basic" }, { [input.name]: { type: "float32", data: new Float32Array(batch * 3 * S * S), dims: input.layout === "CHW" ? [3, S, S] : [batch, 3, S, S] } });
    dims = Object.fromEntries(names.map((n) => [n, out[n]!.dims]));
  } catch (e) {
    throw new AdapterError(`${label}: running the model to its last convolutions failed: ${(e as Error).message.split("\n")[0]}`);
  }
  const bySize = new Map<string, HeadTensor[]>();
  for (const n of leaves) {
    const d = dims[n.output[0]!]!;
    if (d.length !== 4) continue;
    const key = `${d[2]}x${d[3]}`;
    bySize.set(key, [...(bySize.get(key) ?? []), { name: n.output[0]!, node: n.name, channels: d[1]!, height: d[2]!, width: d[3]!, role: roleByName(`${n.name} ${n.output[0]}`) }]);
  }
  const levels: InspectLevel[] = [...bySize.values()]
    .map((tensors) => ({ stride: 2 ** Math.round(Math.log2(S / tensors[0]!.height)), height: tensors[0]!.height, width: tensors[0]!.width, tensors }))
    .sort((a, b) => b.height - a.height);
  // Unnamed roles from channel counts: the fewest channels are centerness (A), then boxes (4A), then classes.
  for (const l of levels) {
    const unknown = l.tensors.filter((t) => t.role === "unknown").sort((a, b) => a.channels - b.channels);
    if (!unknown.length) continue;
    const has = (r: HeadTensor["role"]) => l.tensors.some((t) => t.role === r);
    for (const t of unknown) {
      if (!has("boxes") && t.channels % 4 === 0) t.role = "boxes";
      else if (!has("classes")) t.role = "classes";
      else if (!has("centerness")) t.role = "centerness";
    }
  }
  const first = levels[0];
  const boxT = first?.tensors.find((t) => t.role === "boxes");
  const clsT = first?.tensors.find((t) => t.role === "classes");
  const ctrT = first?.tensors.find((t) => t.role === "centerness");
  const A = ctrT ? ctrT.channels : boxT && boxT.channels % 4 === 0 ? (boxT.channels / 4 >= 8 && clsT && clsT.channels % (boxT.channels / 4) !== 0 ? 1 : boxT.channels / 4) : undefined;
  const K = clsT && A ? clsT.channels / A : undefined;
  if (boxT && A === 1 && boxT.channels > 4) notes.push(`box tensors have ${boxT.channels} channels: DFL bins (${boxT.channels / 4} per side)? DFL heads need a model-native adapter`);
  // Where post-processing starts.
  const post = g.node.find((n) => n.opType === "TopK" || n.opType === "NonMaxSuppression" || n.opType === "NonZero");
  const bn = g.node.filter((n) => n.opType === "BatchNormalization");
  const foldedBN = g.initializer.filter((t) => t.dims.length === 4 && Number(t.dims[0]) === 1 && Number(t.dims[2]) === 1 && Number(t.dims[3]) === 1).length;
  const batchNorm: Inspection["batchNorm"] = bn.length
    ? bn.some((n) => n.attribute.some((a) => a.name === "training_mode" && a.i === 1n))
      ? "training-mode BatchNormalization nodes"
      : "BatchNormalization nodes (inference)"
    : foldedBN
      ? "folded into Mul/Add constants (FrozenBN)"
      : "none (folded into Conv weights, or absent)";
  const firstUse = g.node.find((n) => n.input.includes(input.name));
  const normalisesInside = !!firstUse && ["Sub", "Div", "Mul"].includes(firstUse.opType);
  // A preset fits when every tensor it names exists.
  const all = new Set([...g.node.flatMap((n) => n.output), ...g.input.map((v) => v.name), ...inits]);
  // A preset fits when every tensor it names exists, with the same levels and head roles; the most
  // specific (most tensors named) wins.
  const withCtr = levels.some((l) => l.tensors.some((t) => t.role === "centerness"));
  const preset = Object.values(PRESETS)
    .filter((p) => headTensorNames(p).every((n) => all.has(n)) && p.levels.length === levels.length && p.levels.some((l) => l.centerness) === withCtr && !!p.modelDetections === !!post)
    .sort((a, b) => headTensorNames(b).length - headTensorNames(a).length)[0];
  const background = dataset && K !== undefined && K === dataset.categories.length + 1;
  if (dataset && K !== undefined) {
    if (background) notes.push(`the model has ${K} class channels and the dataset ${dataset.categories.length} categories: channel 0 is the background label (torchvision counts it), so "backgroundChannel" is set`);
    else if (K !== dataset.categories.length) notes.push(`the model has ${K} class channels but the dataset has ${dataset.categories.length} categories: they must match (train refuses otherwise)`);
    else notes.push(`the model's ${K} class channels match the dataset's ${dataset.categories.length} categories`);
  }
  const draftLevels: AdapterLevel[] = levels
    .filter((l) => l.tensors.some((t) => t.role === "classes") && l.tensors.some((t) => t.role === "boxes"))
    .map((l) => {
      const c = l.tensors.find((t) => t.role === "centerness");
      return { stride: l.stride, classes: l.tensors.find((t) => t.role === "classes")!.name, boxes: l.tensors.find((t) => t.role === "boxes")!.name, ...(c ? { centerness: c.name } : {}) };
    });
  const base: DetectorAdapter = preset
    ? { ...PRESETS[preset.name]!, numClasses: K !== undefined ? K - (preset.backgroundChannel ? 1 : 0) : 0, imageSize: S }
    : {
        name: `${label.replace(/\.onnx$/, "")}-adapter`,
        numClasses: K !== undefined ? K - (background ? 1 : 0) : 0,
        imageSize: S,
        levels: draftLevels,
        coder: ctrT ? "distance-linear" : A && A > 1 ? "delta-xywh" : "distance-exp",
        anchorScale: A && A > 1 ? 4 : 8,
        // A centerness head is torchvision FCOS's: linear distances from stride-sized anchors, scored √(cls·ctr).
        ...(ctrT ? { anchorGenerator: { sizes: draftLevels.map((l) => [l.stride]), ratios: [1] }, scoring: "sigmoid-centerness" as const, assigner: "atss" as const } : {}),
        ...(A && A > 1 ? { scalesPerOctave: A % 3 === 0 ? 3 : 1, ratios: A % 3 === 0 ? [0.5, 1, 2] : [1], assigner: "max-iou" as const } : {}),
        ...(background ? { backgroundChannel: "unused" as const } : {}),
        ...(normalisesInside ? { normalisation: { mean: [0, 0, 0] as [number, number, number], std: [255, 255, 255] as [number, number, number] } } : {}),
      };
  const adapterNotes = preset
    ? [`the preset "${preset.name}" fits: its head tensors are all in the graph; train with --preset ${preset.name}`]
    : [
        "check: the levels' strides and tensor roles (classes / boxes / centerness) below",
        `check: the coder "${base.coder}" and anchors must equal how the model decodes its boxes, or the exported file is not a drop-in`,
        ...(normalisesInside ? ["check: the graph normalises its input itself, so it is fed 0…1 (normalisation mean 0, std 255)"] : ["check: normalisation (default ImageNet mean/std on 0…255)"]),
        ...(post ? [`check: the model post-processes (from node "${post.name}"); set "modelDetections" to its boxes/scores/labels outputs to get the drop-in check`] : []),
      ];
  if (batchNorm.startsWith("folded into Mul")) adapterNotes.push('BatchNorm is folded into constants: "frozen": ["bn"] keeps them fixed (torchvision trains with FrozenBN)');
  const adapter = { ...base, ...(batchNorm.startsWith("folded into Mul") && !base.frozen ? { frozen: ["bn"] } : {}), notes: [...adapterNotes, ...notes] };
  return {
    input,
    inputShape: shapeOf(g.input.find((v) => v.name === input.name)),
    outputs: g.output.map((o) => ({ name: o.name, shape: shapeOf(o) })),
    levels,
    anchorsPerLocation: A,
    classChannels: K,
    postprocessing: post ? { node: post.name, op: post.opType } : undefined,
    batchNorm,
    normalisesInside,
    preset: preset?.name,
    adapter,
    notes,
  };
}

function nativeInspection(model: ModelProto, input: ModelImageInput, n: NativeInspection, label: string, dataset?: CocoDataset): Inspection {
  const g = model.graph!;
  const notes = [...n.notes];
  if (dataset) {
    const names = dataset.categories.map((c) => c.name);
    if (n.classNames && names.every((x) => n.classNames!.includes(x))) notes.push(`the dataset's ${names.length} categories are among the model's class names: train uses those channels only and exports them in the dataset's order`);
    else if (names.length !== n.classChannels) notes.push(`the model has ${n.classChannels} class channels and the dataset ${names.length} categories: train refuses unless the adapter's "classNames" contain every category name, or --new-classes re-initialises the class branch`);
    else notes.push(`the model's ${n.classChannels} class channels match the dataset's ${names.length} categories`);
  }
  const adapter: DetectorAdapter & { notes: string[] } = {
    name: `${label.replace(/\.onnx$/, "")}-native`,
    numClasses: n.classChannels,
    imageSize: input.size,
    levels: [],
    coder: "native",
    anchorScale: 8,
    native: n.native,
    ...(n.classNames ? { classNames: n.classNames } : {}),
    notes: [
      "model-native decode: ranksort trains the model's own decoded boxes (GIoU) and pre-sigmoid class logits (RS loss), assigning with ATSS on the cell centres (8·stride virtual anchors)",
      ...notes,
    ],
  };
  return {
    input,
    inputShape: shapeOf(g.input.find((v) => v.name === input.name)),
    outputs: g.output.map((o) => ({ name: o.name, shape: shapeOf(o) })),
    levels: n.native.strides.map((stride, i) => ({ stride, height: n.levelSizes[i]!, width: n.levelSizes[i]!, tensors: [] })),
    anchorsPerLocation: 1,
    classChannels: n.classChannels,
    postprocessing: undefined,
    batchNorm: g.node.some((x) => x.opType === "BatchNormalization") ? "BatchNormalization nodes (inference)" : "none (folded into Conv weights, or absent)",
    normalisesInside: false,
    preset: undefined,
    adapter,
    notes,
    native: n,
  };
}

/** A readable report of an inspection. */
export function formatInspection(r: Inspection, label: string): string {
  if (r.native) {
    const n = r.native;
    return [
      `${label}`,
      `  input: "${r.input.name}" [${r.inputShape.join(", ")}] — ${r.input.staticBatch ? `static batch ${r.input.staticBatch}` : "dynamic batch"}, ${r.input.size}×${r.input.size}`,
      `  output: "${n.native.output}" [${r.outputs[0]!.shape.join(", ")}] — YOLO-style single output, ${n.native.layout === "channels-first" ? "[B, 4+C, N]" : "[B, N, 4+C]"}: decoded boxes (${n.native.boxFormat}, input pixels) and ${n.classChannels} class scores`,
      `  score activation: ${n.scoreActivation}`,
      `  level layout (N axis): ${n.native.strides.map((s, i) => `stride ${s} (${n.levelSizes[i]}×${n.levelSizes[i]})`).join(" + ")} = ${n.levelSizes.reduce((a, h) => a + h * h, 0)} locations`,
      `  box branch: ${n.native.dflBins ? `DFL, ${n.native.dflBins} bins per side (softmax + expectation)` : "no DFL (direct distances)"}`,
      `  preset: none — model-native decode (adapter "native")`,
      ...r.adapter.notes.map((x) => `  - ${x}`),
    ].join("\n");
  }
  const lines = [
    `${label}`,
    `  input: "${r.input.name}" [${r.inputShape.join(", ")}] — ${r.input.layout === "CHW" ? "one image per run" : r.input.staticBatch ? `static batch ${r.input.staticBatch}` : "dynamic batch"}, ${r.input.size}×${r.input.size}${r.normalisesInside ? ", normalised inside the graph (feed 0…1)" : ""}`,
    `  outputs: ${r.outputs.map((o) => `"${o.name}" [${o.shape.join(", ")}]`).join(", ")}`,
    `  post-processing: ${r.postprocessing ? `starts at ${r.postprocessing.op} "${r.postprocessing.node}" (the head tensors are internal)` : "none (the outputs are raw heads)"}`,
    `  BatchNorm: ${r.batchNorm}`,
    `  head levels (leaf convolutions by feature-map size):`,
    ...r.levels.map((l) => `    stride ${l.stride} (${l.height}×${l.width}): ${l.tensors.map((t) => `${t.role} "${t.name}" ${t.channels}ch`).join(", ")}`),
    `  anchors per location: ${r.anchorsPerLocation ?? "?"}; class channels per anchor: ${r.classChannels ?? "?"}`,
    `  preset: ${r.preset ?? "none fits — a draft adapter is proposed"}`,
    ...r.adapter.notes.map((n) => `  - ${n}`),
  ];
  return lines.join("\n");
}
