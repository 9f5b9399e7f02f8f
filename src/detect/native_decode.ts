// Model-native decode: YOLO-style exports that decode their own boxes and scores into one tensor
// [B, 4 + C, N] (or [B, N, 4 + C]). ranksort trains through that decode — RS loss on the pre-sigmoid
// class logits (found by walking back from the output's Sigmoid), GIoU on the model's own boxes —
// and evaluates the model's own boxes and scores with NMS, so the trained file is a drop-in by
// construction. Anchor points and strides here serve assignment only (ATSS on points with a virtual
// 8·stride square anchor, as the ATSS paper's anchor-free setup); the model keeps its own.

import { cutAtValues, definedValues } from "../onnx/cut.ts";
import type { GraphProto, ModelProto, NodeProto } from "../onnx/proto.ts";
import type { HostTensor } from "../runtime/host_tensor.ts";
import { RankSortSession } from "../runtime/session.ts";
import { AdapterError, type DetectorAdapter, type NativeDecode } from "./adapter.ts";
import type { AnchorLayout } from "./anchor_layout.ts";
import { levelAnchors, levelPoints } from "./anchors.ts";

/** The model's image input as binding reads it (detector_binding.ts's ModelImageInput). */
interface ModelImageInput {
  name: string;
  layout: "CHW" | "NCHW";
  staticBatch: number | undefined;
  size: number;
}

/** What binding found in a native model's graph. */
export interface NativeBinding {
  output: string;
  /** The pre-sigmoid class logits tensor and its axes ([B, C, N] or [B, N, C]). */
  logits: string;
  logitsLayout: "channels-first" | "channels-last";
  layout: NativeDecode["layout"];
  boxFormat: NativeDecode["boxFormat"];
  /** The model's class channels. */
  modelClasses: number;
  /** Float initializers of the model's decode (anchor points, strides, DFL weights): never trained. */
  decodeConstants: string[];
  /** The last learned convolutions of the class branch and of the box branch, per level. */
  classConvs: NodeProto[];
  boxConvs: NodeProto[];
}

const PASS_THROUGH = new Set(["Transpose", "Reshape", "Concat", "Identity", "Squeeze", "Unsqueeze", "Flatten"]);

function producers(g: GraphProto): Map<string, NodeProto> {
  const m = new Map<string, NodeProto>();
  for (const n of g.node) for (const o of n.output) if (o) m.set(o, n);
  return m;
}

/** The input of the Sigmoid that makes the output's class scores, through Concat/Reshape/Transpose. */
export function findClassLogits(g: GraphProto, output: string, label: string): string {
  const byOutput = producers(g);
  const sigmoids: NodeProto[] = [];
  const seen = new Set<string>();
  const stack = [output];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    const n = byOutput.get(t);
    if (!n) continue;
    if (n.opType === "Sigmoid") sigmoids.push(n);
    else if (PASS_THROUGH.has(n.opType)) stack.push(...n.input.filter((x) => x));
  }
  if (sigmoids.length === 1) return sigmoids[0]!.input[0]!;
  if (!sigmoids.length) throw new AdapterError(`${label}: no Sigmoid makes the class scores of output "${output}" (walking back through Concat/Reshape/Transpose); name the pre-sigmoid class logits in the adapter ("native": {"logits": …})`);
  throw new AdapterError(`${label}: output "${output}" takes its scores from ${sigmoids.length} Sigmoids (${sigmoids.map((s) => `"${s.name}"`).join(", ")}); name the concatenated pre-sigmoid class logits in the adapter ("native": {"logits": …})`);
}

/**
 * The graph's decode: the last learned convolutions of each branch (head convs) and the float
 * initializers read after them (anchor points, strides, the DFL's fixed expectation conv — a conv
 * that reads a Softmax is a projection, not a learned layer).
 */
export function decodeStructure(g: GraphProto): { headConvs: NodeProto[]; constants: string[] } {
  const softmaxDerived = new Set<string>();
  const projection = new Set<NodeProto>();
  for (const n of g.node) {
    const derived = n.opType === "Softmax" || n.input.some((i) => softmaxDerived.has(i));
    if (derived) {
      if (n.opType === "Conv") projection.add(n);
      for (const o of n.output) softmaxDerived.add(o);
    }
  }
  const learned = (n: NodeProto) => (n.opType === "Conv" || n.opType === "ConvTranspose") && !projection.has(n);
  const consumers = new Map<string, NodeProto[]>();
  for (const n of g.node) for (const i of n.input) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const reachesLearned = new Map<string, boolean>();
  for (let k = g.node.length - 1; k >= 0; k--) {
    const n = g.node[k]!;
    for (const o of n.output) reachesLearned.set(o, (consumers.get(o) ?? []).some((c) => learned(c) || c.output.some((x) => reachesLearned.get(x))));
  }
  const headConvs = g.node.filter((n) => learned(n) && !reachesLearned.get(n.output[0]!));
  const region = new Set(headConvs.map((n) => n.output[0]!));
  const floats = new Set(g.initializer.filter((t) => t.dataType === 1).map((t) => t.name));
  const constants = new Set<string>();
  for (const n of g.node) {
    if (headConvs.includes(n) || !n.input.some((i) => region.has(i))) continue;
    for (const o of n.output) region.add(o);
    for (const i of n.input) if (floats.has(i)) constants.add(i);
  }
  return { headConvs, constants: [...constants] };
}

/** Tensors that `target` is computed from (its ancestors, itself included). */
function ancestors(g: GraphProto, target: string): Set<string> {
  const byOutput = producers(g);
  const seen = new Set<string>();
  const stack = [target];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    const n = byOutput.get(t);
    if (n) stack.push(...n.input.filter((x) => x));
  }
  return seen;
}

/** Assignment geometry of the N axis: points at (x + ½)·stride, 8·stride squares for ATSS. */
export function nativeLayout(native: Pick<NativeDecode, "strides">, size: number): AnchorLayout {
  const levels = native.strides.map((stride) => ({ stride, height: Math.ceil(size / stride), width: Math.ceil(size / stride) }));
  const points = levels.map((l) => levelPoints(l));
  const boxes = levels.map((l) => levelAnchors(l, { octaveBaseScale: 8, scalesPerOctave: 1, ratios: [1] }));
  const cat = (parts: Float32Array[]) => {
    const all = new Float32Array(parts.reduce((a, b) => a + b.length, 0));
    let k = 0;
    for (const p of parts) all.set(p, (k += p.length) - p.length);
    return all;
  };
  const strides = cat(levels.map((l) => new Float32Array(l.height * l.width).fill(l.stride)));
  const anchors = cat(boxes);
  return { points: cat(points), strides, anchors, assignAnchors: anchors, perLevel: levels.map((l) => l.height * l.width) };
}

async function probe(model: ModelProto, names: string[], input: ModelImageInput, label: string): Promise<Record<string, HostTensor>> {
  const S = input.size;
  const batch = input.staticBatch ?? 1;
  try {
    // A mid-grey image: class scores of any model are defined there.
    const pixels = new Float32Array(batch * 3 * S * S).fill(0.5);
    return await RankSortSession.runOnce(cutAtValues(model, names), { executionProvider: "cpu" }, { [input.name]: { type: "float32", data: pixels, dims: input.layout === "CHW" ? [3, S, S] : [batch, 3, S, S] } });
  } catch (e) {
    throw new AdapterError(`${label}: running the model to ${names.map((n) => `"${n}"`).join(", ")} failed: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** Checks a native adapter against the model and finds its logits, decode constants and branches. */
export async function bindNative(model: ModelProto, adapter: DetectorAdapter, input: ModelImageInput, label: string): Promise<NativeBinding> {
  const native = adapter.native!;
  const g = model.graph!;
  const defined = definedValues(g);
  if (!defined.has(native.output)) throw new AdapterError(`adapter "${adapter.name}": native output "${native.output}" is not in ${label} (outputs: ${g.output.map((o) => o.name).join(", ")})`);
  const S = input.size;
  const out = (await probe(model, [native.output], input, label))[native.output]!;
  const d = out.dims;
  if (d.length !== 3) throw new AdapterError(`adapter "${adapter.name}": output "${native.output}" is [${d.join(", ")}]; a native output is [B, 4+C, N] or [B, N, 4+C]`);
  const [channels, N] = native.layout === "channels-first" ? [d[1]!, d[2]!] : [d[2]!, d[1]!];
  const expected = native.strides.map((s) => Math.ceil(S / s) ** 2);
  const total = expected.reduce((a, b) => a + b, 0);
  if (N !== total) {
    throw new AdapterError(`adapter "${adapter.name}": output "${native.output}" has N = ${N} locations (layout ${native.layout}), but strides ${native.strides.join(", ")} at ${S}² give ${expected.join(" + ")} = ${total}`);
  }
  if (channels < 5) throw new AdapterError(`adapter "${adapter.name}": output "${native.output}" has ${channels} channels per location; a native output has 4 box channels and at least one class score`);
  // Scores must be probabilities: the model's own post-processing thresholds them as such.
  const data = out.data as Float32Array;
  let [lo, hi] = [Infinity, -Infinity];
  for (let a = 0; a < N; a++) {
    for (let c = 4; c < channels; c++) {
      const v = native.layout === "channels-first" ? data[c * N + a]! : data[a * channels + c]!;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!(lo >= 0 && hi <= 1)) throw new AdapterError(`adapter "${adapter.name}": the score channels 4…${channels - 1} of output "${native.output}" hold values in [${lo.toPrecision(3)}, ${hi.toPrecision(3)}], not [0, 1]: native mode needs post-sigmoid class scores`);
  const logits = native.logits ?? findClassLogits(g, native.output, label);
  if (!defined.has(logits)) throw new AdapterError(`adapter "${adapter.name}": native logits "${logits}" is not in ${label}`);
  const ld = (await probe(model, [logits], input, label))[logits]!.dims;
  const C = channels - 4;
  const logitsLayout = ld.length === 3 && ld[1] === C && ld[2] === N ? "channels-first" : ld.length === 3 && ld[1] === N && ld[2] === C ? "channels-last" : undefined;
  if (!logitsLayout) throw new AdapterError(`adapter "${adapter.name}": class logits "${logits}" are [${ld.join(", ")}]; expected [B, ${C}, ${N}] or [B, ${N}, ${C}] to match output "${native.output}"`);
  if (adapter.classNames && adapter.classNames.length !== C) {
    throw new AdapterError(`adapter "${adapter.name}": "classNames" lists ${adapter.classNames.length} names, but output "${native.output}" has ${C} class channels`);
  }
  const { headConvs, constants } = decodeStructure(g);
  // Branches by their width: a class conv has one channel per class and feeds the logits; the
  // other head convs feeding the output are the box branch (they may share a Split with the classes).
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const width = (n: NodeProto) => Number(inits.get(n.input[1] ?? "")?.dims[0] ?? -1);
  const toLogits = ancestors(g, logits);
  const classConvs = headConvs.filter((n) => toLogits.has(n.output[0]!) && width(n) === C);
  const toOutput = ancestors(g, native.output);
  const boxConvs = headConvs.filter((n) => !classConvs.includes(n) && toOutput.has(n.output[0]!));
  if (native.dflBins !== undefined) {
    for (const conv of boxConvs) {
      const w = inits.get(conv.input[1]!);
      const ch = w ? Number(w.dims[0]) : undefined;
      if (ch !== undefined && ch !== 4 * native.dflBins) {
        throw new AdapterError(`adapter "${adapter.name}": native.dflBins ${native.dflBins} does not fit the box branch: conv "${conv.name}" has ${ch} channels, expected 4 sides × ${native.dflBins} bins = ${4 * native.dflBins}${ch % 4 === 0 ? ` (this model has ${ch / 4} bins per side)` : ""}`);
      }
    }
  }
  return { output: native.output, logits, logitsLayout, layout: native.layout, boxFormat: native.boxFormat, modelClasses: C, decodeConstants: constants, classConvs, boxConvs };
}

/** One image's scores [N, C] (the trained classes) and boxes [N, 4] (x1, y1, x2, y2) from the model's own output. */
export function nativeDetections(native: NativeBinding, output: HostTensor, b: number): { scores: Float32Array; boxes: Float32Array } {
  const d = output.dims;
  const [channels, N] = native.layout === "channels-first" ? [d[1]!, d[2]!] : [d[2]!, d[1]!];
  const data = output.data as Float32Array;
  const at = native.layout === "channels-first" ? (a: number, c: number) => data[(b * channels + c) * N + a]! : (a: number, c: number) => data[(b * N + a) * channels + c]!;
  const C = channels - 4;
  const scores = new Float32Array(N * C);
  const boxes = new Float32Array(N * 4);
  for (let a = 0; a < N; a++) {
    for (let c = 0; c < C; c++) scores[a * C + c] = at(a, 4 + c);
    const [p, q, r, s] = [at(a, 0), at(a, 1), at(a, 2), at(a, 3)];
    if (native.boxFormat === "cxcywh") boxes.set([p - r / 2, q - s / 2, p + r / 2, q + s / 2], 4 * a);
    else boxes.set([p, q, r, s], 4 * a);
  }
  return { scores, boxes };
}
