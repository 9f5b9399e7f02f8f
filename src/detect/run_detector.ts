// Runs an exported detector on images and returns its detections in each image's own pixel
// coordinates: the adapter's preprocessing, the model up to its head tensors, the adapter's decode,
// scoring and post-processing (the model's own settings for torchvision presets). Evaluation, the
// drop-in check and `predict` all detect through this one path.

import { prepareImage } from "../data/batch.ts";
import type { RGBImage } from "../data/image.ts";
import { decodeModel } from "../onnx/model_codec.ts";
import type { ModelProto } from "../onnx/proto.ts";
import type { HostTensor } from "../runtime/host_tensor.ts";
import { type ExecutionProvider, RankSortSession } from "../runtime/session.ts";
import { adapterNormalisation, type DetectorAdapter } from "./adapter.ts";
import { decodeForAdapter } from "./box_decode.ts";
import { bindDetector, type BoundDetector } from "./detector_binding.ts";
import { nativeDetections } from "./native_decode.ts";
import { DEFAULT_POSTPROCESS, postprocess, type PostprocessOptions } from "./postprocess.ts";

/** One detection in the image's pixel coordinates; `classIndex` is the adapter's class 0…C−1. */
export interface ImageDetection {
  box: [number, number, number, number];
  score: number;
  classIndex: number;
}

export interface DetectorRunnerOptions {
  executionProvider?: ExecutionProvider;
  /** Images per session run for dynamic-batch models (default 8; fixed by the model otherwise). */
  batch?: number;
  /** Overrides the adapter's post-processing. */
  postprocess?: PostprocessOptions;
}

/** The adapter's post-processing settings (the model's own for torchvision presets). */
export function postprocessOptions(adapter: DetectorAdapter): PostprocessOptions {
  const p = adapter.postprocess;
  if (!p) return DEFAULT_POSTPROCESS;
  const torchvisionStyle = p.clip === true;
  return {
    scoreThreshold: p.scoreThreshold ?? DEFAULT_POSTPROCESS.scoreThreshold,
    nmsIoU: p.nmsIoU ?? DEFAULT_POSTPROCESS.nmsIoU,
    maxDetections: p.maxDetections ?? DEFAULT_POSTPROCESS.maxDetections,
    preNmsTopK: p.preNmsTopK ?? DEFAULT_POSTPROCESS.preNmsTopK,
    topKPer: p.topKPer,
    clipTo: p.clip ? adapter.networkSize ?? adapter.imageSize : undefined,
    strictThreshold: torchvisionStyle,
  };
}

/** Per-anchor class scores [N, C] and raw regression [N, 4] of image b from the head tensors. */
export function headScores(bound: BoundDetector, out: Record<string, HostTensor>, b: number): { scores: Float32Array; regression: Float32Array } {
  const { adapter, layout } = bound;
  const C = adapter.numClasses;
  const K = bound.classChannels;
  const skip = K - C; // a background channel first
  const N = layout.strides.length;
  const scores = new Float32Array(N * C);
  const reg = new Float32Array(N * 4);
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
  let offset = 0;
  adapter.levels.forEach((l, li) => {
    const cls = out[l.classes]!;
    const [H, W] = [cls.dims[2]!, cls.dims[3]!];
    const A = bound.anchorsPerLocation[li]!; // channel = a·K + c, anchor order (y, x, a)
    const cd = cls.data as Float32Array;
    const bd = out[l.boxes]!.data as Float32Array;
    const ctr = l.centerness ? (out[l.centerness]!.data as Float32Array) : undefined;
    const logits = new Float64Array(K);
    for (let p = 0; p < H * W; p++) {
      for (let a = 0; a < A; a++) {
        const row = offset + p * A + a;
        for (let k = 0; k < K; k++) logits[k] = cd[(b * A * K + a * K + k) * H * W + p]!;
        if (adapter.backgroundChannel === "softmax") {
          let m = -Infinity;
          for (let k = 0; k < K; k++) m = Math.max(m, logits[k]!);
          let z = 0;
          for (let k = 0; k < K; k++) z += Math.exp(logits[k]! - m);
          for (let c = 0; c < C; c++) scores[row * C + c] = Math.exp(logits[skip + c]! - m) / z;
        } else if (adapter.scoring === "sigmoid-centerness") {
          const q = sigmoid(ctr![(b * A + a) * H * W + p]!);
          for (let c = 0; c < C; c++) scores[row * C + c] = Math.sqrt(sigmoid(logits[skip + c]!) * q);
        } else {
          for (let c = 0; c < C; c++) scores[row * C + c] = sigmoid(logits[skip + c]!);
        }
        for (let k = 0; k < 4; k++) reg[row * 4 + k] = bd[(b * A * 4 + a * 4 + k) * H * W + p]!;
      }
    }
    offset += H * W * A;
  });
  return { scores, regression: reg };
}

function decodeHeads(bound: BoundDetector, out: Record<string, HostTensor>, b: number): { scores: Float32Array; boxes: Float32Array } {
  const { scores, regression } = headScores(bound, out, b);
  return { scores, boxes: decodeForAdapter(bound.adapter, regression, bound.layout) };
}

export class DetectorRunner {
  private constructor(
    private readonly session: RankSortSession,
    readonly bound: BoundDetector,
    private readonly options: Required<Pick<DetectorRunnerOptions, "batch" | "postprocess">>,
  ) {}

  get adapter(): DetectorAdapter {
    return this.bound.adapter;
  }

  static async create(model: Uint8Array | ModelProto, adapter: DetectorAdapter, options: DetectorRunnerOptions & { label?: string } = {}): Promise<DetectorRunner> {
    const bound = await bindDetector(model instanceof Uint8Array ? decodeModel(model, options.label) : model, adapter, options.label);
    return DetectorRunner.fromBinding(bound, options);
  }

  static async fromBinding(bound: BoundDetector, options: DetectorRunnerOptions = {}): Promise<DetectorRunner> {
    const session = await RankSortSession.create(bound.heads, { executionProvider: options.executionProvider ?? "cpu" });
    const batch = bound.input.staticBatch ?? options.batch ?? 8;
    return new DetectorRunner(session, bound, { batch, postprocess: options.postprocess ?? postprocessOptions(bound.adapter) });
  }

  /** Frees the onnxruntime session's memory now (see RankSortSession.release); detect fails after. */
  release(): Promise<void> {
    return this.session.release();
  }

  /** Detections per image, in the order given. */
  async detect(images: readonly RGBImage[]): Promise<ImageDetection[][]> {
    const result: ImageDetection[][] = [];
    for (let i = 0; i < images.length; i += this.options.batch) result.push(...(await this.detectChunk(images.slice(i, i + this.options.batch))));
    return result;
  }

  private async detectChunk(chunk: readonly RGBImage[]): Promise<ImageDetection[][]> {
    const { adapter, layout, input } = this.bound;
    const S = adapter.imageSize;
    // A static batch is filled up with blank images.
    const B = input.staticBatch ?? chunk.length;
    const pixels = new Float32Array(B * 3 * S * S);
    const scales: number[] = [];
    chunk.forEach((img, b) => {
      const prep = prepareImage(img, new Float32Array(0), S, adapterNormalisation(adapter));
      pixels.set(prep.pixels, b * 3 * S * S);
      scales.push(prep.scale);
    });
    const out = await this.session.run({ [input.name]: { type: "float32", data: pixels, dims: input.layout === "CHW" ? [3, S, S] : [B, 3, S, S] } });
    // Network coordinates → input pixels → the image's own pixels.
    const toInput = S / (adapter.networkSize ?? S);
    return chunk.map((_, b) => {
      const native = this.bound.native;
      const { scores, boxes } = native ? nativeDetections(native, out[native.output]!, b) : decodeHeads(this.bound, out, b);
      const k = toInput / scales[b]!;
      return postprocess(scores, boxes, adapter.numClasses, this.options.postprocess, layout.perLevel).map((d) => ({ classIndex: d.classIndex, score: d.score, box: [d.box[0] * k, d.box[1] * k, d.box[2] * k, d.box[3] * k] as [number, number, number, number] }));
    });
  }
}
