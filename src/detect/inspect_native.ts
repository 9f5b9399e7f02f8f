// Recognising YOLO-style single-output exports for `ranksort inspect`: one output [B, 4+C, N] or
// [B, N, 4+C] of decoded boxes and post-sigmoid scores. The level layout comes from the last learned
// convolutions (their feature-map sizes give the strides, N must be their sum of H·W), the box
// format from where the first two box channels sit relative to the cell centres, the score
// activation from the Sigmoid behind the output, DFL bins from the expectation conv after a Softmax.

import { cutAtValues } from "../onnx/cut.ts";
import type { ModelProto } from "../onnx/proto.ts";
import { RankSortSession } from "../runtime/session.ts";
import type { NativeDecode } from "./adapter.ts";
import { COCO_CLASS_NAMES } from "./class_names.ts";
import type { ModelImageInput } from "./detector_binding.ts";
import { decodeStructure, findClassLogits, nativeLayout } from "./native_decode.ts";

export interface NativeInspection {
  native: NativeDecode;
  classChannels: number;
  /** Feature-map side per level. */
  levelSizes: number[];
  scoreActivation: string;
  decodeConstants: string[];
  classNames?: string[];
  notes: string[];
}

/** A native description of the model, or undefined when it is not a single-output decoded export. */
export async function inspectNative(model: ModelProto, input: ModelImageInput, label: string): Promise<NativeInspection | undefined> {
  const g = model.graph!;
  if (g.output.length !== 1) return undefined;
  const output = g.output[0]!.name;
  const { headConvs, constants } = decodeStructure(g);
  if (!headConvs.length) return undefined;
  const S = input.size;
  const batch = input.staticBatch ?? 1;
  const names = [output, ...headConvs.map((n) => n.output[0]!)];
  let out: Record<string, { dims: readonly number[]; data: unknown }>;
  try {
    out = await RankSortSession.runOnce(cutAtValues(model, names), { executionProvider: "cpu", optimization: "basic" }, { [input.name]: { type: "float32", data: new Float32Array(batch * 3 * S * S).fill(0.5), dims: input.layout === "CHW" ? [3, S, S] : [batch, 3, S, S] } });
  } catch {
    return undefined;
  }
  const d = out[output]!.dims;
  if (d.length !== 3) return undefined;
  const sizes = [...new Set(headConvs.map((n) => out[n.output[0]!]!.dims).filter((x) => x.length === 4).map((x) => x[2]!))].sort((a, b) => b - a);
  const strides = sizes.map((h) => Math.round(S / h));
  const N = sizes.reduce((a, h) => a + h * h, 0);
  const layout = d[2] === N ? "channels-first" : d[1] === N ? "channels-last" : undefined;
  if (!layout) return undefined;
  const channels = layout === "channels-first" ? d[1]! : d[2]!;
  if (channels < 5) return undefined;
  const notes: string[] = [];
  let logits: string | undefined;
  try {
    logits = findClassLogits(g, output, label);
  } catch (e) {
    notes.push(`no class logits found: ${(e as Error).message}`);
  }
  // Box format: cx, cy sit on the cell centres (x + ½)·stride at init; x1, y1 sit left/above them.
  const data = out[output]!.data as Float32Array;
  const at = (a: number, c: number) => (layout === "channels-first" ? data[c * N + a]! : data[a * channels + c]!);
  const geometry = nativeLayout({ strides }, S);
  let [asCentre, asCorner] = [0, 0];
  for (let a = 0; a < N; a++) {
    const px = geometry.points[2 * a]!;
    asCentre += Math.abs(at(a, 0) - px);
    asCorner += Math.abs((at(a, 0) + at(a, 2)) / 2 - px);
  }
  const boxFormat = asCentre <= asCorner ? "cxcywh" : "xyxy";
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const projection = g.node.find((n) => n.opType === "Conv" && constants.includes(n.input[1]!));
  const bins = projection ? Number(inits.get(projection.input[1]!)?.dims[1] ?? 0) || undefined : undefined;
  const C = channels - 4;
  const classNames = C === 80 ? [...COCO_CLASS_NAMES] : undefined;
  if (classNames) notes.push("80 class channels: COCO's class names are assumed (classNames); a dataset whose categories are among them trains on those channels only");
  notes.push(`box format ${boxFormat} read from the output's first channels at initialisation; check it against how the model was exported`);
  if (constants.length) notes.push(`decode constants kept fixed in training: ${constants.join(", ")}`);
  return {
    native: { output, layout, boxFormat, strides, ...(logits ? { logits } : {}), ...(bins ? { dflBins: bins } : {}) },
    classChannels: C,
    levelSizes: sizes,
    scoreActivation: logits ? `sigmoid of "${logits}"` : "unknown (no Sigmoid behind the output)",
    decodeConstants: constants,
    ...(classNames ? { classNames } : {}),
    notes,
  };
}
