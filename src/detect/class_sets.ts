// Fitting a detector to a dataset's class set before training. When every dataset category is one of
// the model's class names (adapter "classNames"; COCO's 80 for COCO-trained exports), the class
// branch keeps just those channels, in the dataset's order, with their weights. Otherwise training
// refuses unless asked for new classes: then the class branch's last layer is re-initialised for the
// dataset's categories (weights N(0, 0.01), bias at prior probability 0.01), everything else keeps
// its weights. Either way the graph after the head is rewritten (src/onnx/class_surgery.ts), run in
// onnxruntime, and bound again, so the exported file's class outputs are the dataset's.

import { cutAtValues } from "../onnx/cut.ts";
import { ClassSurgeryError, downstreamValues, rewriteClassChannels } from "../onnx/class_surgery.ts";
import type { ModelProto } from "../onnx/proto.ts";
import { RankSortSession } from "../runtime/session.ts";
import { AdapterError, type DetectorAdapter } from "./adapter.ts";
import { bindDetector, type BoundDetector } from "./detector_binding.ts";

export interface ClassSetOptions {
  /** Re-initialise the class branch for the dataset's categories when they are not the model's. */
  newClasses?: boolean;
  seed?: number;
}

const PRIOR_BIAS = -Math.log((1 - 0.01) / 0.01);

const list = (names: readonly string[]) => (names.length > 12 ? `${names.slice(0, 10).join(", ")}, … (${names.length})` : names.join(", "));

/** The model bound to the dataset's classes: unchanged, a subset by name, or a new class branch. */
export async function fitClassSet(bound: BoundDetector, datasetNames: readonly string[], opts: ClassSetOptions, label: string): Promise<BoundDetector> {
  const C = bound.adapter.numClasses;
  const names = bound.adapter.classNames;
  if (names && names.length !== C) throw new AdapterError(`adapter "${bound.adapter.name}": "classNames" lists ${names.length} names, but ${label} has ${C} classes`);
  let rows: number[];
  if (names) {
    if (names.length === datasetNames.length && names.every((n, i) => n === datasetNames[i])) return bound;
    const missing = datasetNames.filter((n) => !names.includes(n));
    if (!missing.length) rows = datasetNames.map((n) => names.indexOf(n));
    else if (opts.newClasses) rows = datasetNames.map(() => -1);
    else throw new AdapterError(`the dataset's categories (${list(datasetNames)}) are not all classes of ${label} (${list(names)}; missing: ${list(missing)}): pass --new-classes to re-initialise its class branch for the dataset's ${datasetNames.length} categories`);
  } else if (datasetNames.length === C && !opts.newClasses) return bound;
  else if (opts.newClasses) rows = datasetNames.map(() => -1);
  else {
    const bg = bound.adapter.backgroundChannel ? ` (its class tensors have ${bound.classChannels} channels: background + ${C}${bound.adapter.backgroundChannel === "unused" ? ", torchvision counts label 0 as background" : ""})` : "";
    throw new AdapterError(`the dataset has ${datasetNames.length} categories (${list(datasetNames)}) but ${label} (${bound.adapter.name}) predicts ${C}${bg} with no class names: name them in the adapter ("classNames") to train a subset, or pass --new-classes`);
  }
  const rewritten = await rewriteForClasses(bound, rows, opts.seed ?? 1, label);
  const adapter: DetectorAdapter = { ...bound.adapter, numClasses: rows.length, classNames: [...datasetNames] };
  try {
    const rebound = await bindDetector(rewritten, adapter, label);
    // The whole file (post-processing included) must still run.
    const S = rebound.input.size;
    await RankSortSession.runOnce(rewritten, { executionProvider: "cpu", optimization: "basic" }, { [rebound.input.name]: { type: "float32", data: new Float32Array((rebound.input.staticBatch ?? 1) * 3 * S * S).fill(0.5), dims: rebound.input.layout === "CHW" ? [3, S, S] : [rebound.input.staticBatch ?? 1, 3, S, S] } });
    return rebound;
  } catch (e) {
    throw new AdapterError(`${label}: the model rewritten for ${rows.length} classes does not run: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** The last convs of the class branch (node names) and their anchor groups. */
function classBranch(bound: BoundDetector, label: string): { convs: string[]; groups: number } {
  const g = bound.model.graph!;
  if (bound.native) {
    const C = bound.native.modelClasses;
    const convs = bound.native.classConvs;
    if (!convs.length) throw new AdapterError(`${label}: the class branch cannot be found: no convolution with ${C} output channels (one per class) feeds the class logits "${bound.native.logits}"`);
    if (convs.length > bound.layout.perLevel.length) throw new AdapterError(`${label}: the class branch cannot be told from the box branch (${convs.length} convolutions with ${C} channels feed the class logits, for ${bound.layout.perLevel.length} levels)`);
    return { convs: convs.map((n) => n.name), groups: 1 };
  }
  const byOutput = new Map(g.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
  const convs = bound.adapter.levels.map((l) => {
    const n = byOutput.get(l.classes);
    if (n?.opType !== "Conv") throw new AdapterError(`${label}: the class branch cannot be found: class tensor "${l.classes}" is made by ${n ? `${n.opType} "${n.name}"` : "no node"}, not a convolution`);
    return n.name;
  });
  const groups = bound.anchorsPerLocation[0]!;
  if (bound.anchorsPerLocation.some((a) => a !== groups)) throw new AdapterError(`${label}: levels have different anchors per location (${bound.anchorsPerLocation.join(", ")}); the class branch cannot be rewritten`);
  return { convs, groups };
}

async function rewriteForClasses(bound: BoundDetector, classRows: number[], seed: number, label: string): Promise<ModelProto> {
  const { convs, groups } = classBranch(bound, label);
  const g = bound.model.graph!;
  const background = bound.classChannels - bound.adapter.numClasses;
  // Background channels (torchvision's label 0, SSD's softmax background) stay first, as they were.
  const rows = [...Array.from({ length: background }, (_, i) => i), ...classRows.map((r) => (r < 0 ? -1 : r + background))];
  const convOutputs = g.node.filter((n) => convs.includes(n.name)).map((n) => n.output[0]!);
  // One run measures every tensor after the class convs and what those nodes read.
  const after = new Set(downstreamValues(g, convOutputs));
  const produced = new Set(g.node.flatMap((n) => n.output));
  const probe = new Set<string>(convOutputs);
  for (const n of g.node) if (n.input.some((i) => after.has(i) || convOutputs.includes(i))) for (const v of [...n.input, ...n.output]) if (v && produced.has(v)) probe.add(v);
  const S = bound.input.size;
  const batch = bound.input.staticBatch ?? 1;
  const shapes = new Map<string, number[]>();
  try {
    const out = await RankSortSession.runOnce(cutAtValues(bound.model, [...probe]), { executionProvider: "cpu", optimization: "basic" }, { [bound.input.name]: { type: "float32", data: new Float32Array(batch * 3 * S * S).fill(0.5), dims: bound.input.layout === "CHW" ? [3, S, S] : [batch, 3, S, S] } });
    for (const [k, v] of Object.entries(out)) shapes.set(k, [...v.dims]);
  } catch (e) {
    throw new AdapterError(`${label}: measuring the graph after the class branch failed: ${(e as Error).message.split("\n")[0]}`);
  }
  try {
    return rewriteClassChannels(bound.model, convs, { groups, oldClasses: bound.classChannels, rows, freshBias: PRIOR_BIAS, freshStd: 0.01, seed }, shapes, label);
  } catch (e) {
    if (e instanceof ClassSurgeryError) throw new AdapterError(e.message);
    throw e;
  }
}
