// Runs an exported detector on images and returns its detections in each image's own pixel
// coordinates: the adapter's preprocessing, the model's raw heads, the adapter's decode and NMS.
// Evaluation, the drop-in check and `predict` all detect through this one path.

import { prepareImage } from "../data/batch.ts";
import type { RGBImage } from "../data/image.ts";
import { type ExecutionProvider, RankSortSession } from "../runtime/session.ts";
import { adapterNormalisation, type AnchorLayout, anchorLayout, checkAdapterFitsModel, classChannels, decodeForAdapter, type DetectorAdapter } from "./adapter.ts";
import { DEFAULT_POSTPROCESS, postprocess, type PostprocessOptions } from "./postprocess.ts";

/** One detection in the image's pixel coordinates; `classIndex` is the adapter's class 0…C−1. */
export interface ImageDetection {
  box: [number, number, number, number];
  score: number;
  classIndex: number;
}

export interface DetectorRunnerOptions {
  executionProvider?: ExecutionProvider;
  /** Images per session run (default 8). */
  batch?: number;
  postprocess?: PostprocessOptions;
}

export class DetectorRunner {
  private constructor(
    private readonly session: RankSortSession,
    readonly adapter: DetectorAdapter,
    private readonly layout: AnchorLayout,
    private readonly options: Required<Pick<DetectorRunnerOptions, "batch" | "postprocess">>,
  ) {}

  static async create(model: Uint8Array, adapter: DetectorAdapter, options: DetectorRunnerOptions = {}): Promise<DetectorRunner> {
    const layout = anchorLayout(adapter);
    const session = await RankSortSession.create(model, { executionProvider: options.executionProvider ?? "cpu" });
    checkAdapterFitsModel(adapter, session.outputNames.map((name) => ({ name })));
    return new DetectorRunner(session, adapter, layout, { batch: options.batch ?? 8, postprocess: options.postprocess ?? DEFAULT_POSTPROCESS });
  }

  /** Detections per image, in the order given. */
  async detect(images: readonly RGBImage[]): Promise<ImageDetection[][]> {
    const result: ImageDetection[][] = [];
    for (let i = 0; i < images.length; i += this.options.batch) result.push(...(await this.detectChunk(images.slice(i, i + this.options.batch))));
    return result;
  }

  private async detectChunk(chunk: readonly RGBImage[]): Promise<ImageDetection[][]> {
    const { adapter, layout } = this;
    const S = adapter.imageSize;
    const C = adapter.numClasses;
    const N = layout.strides.length;
    const pixels = new Float32Array(chunk.length * 3 * S * S);
    const scales: number[] = [];
    chunk.forEach((img, b) => {
      const prep = prepareImage(img, new Float32Array(0), S, adapterNormalisation(adapter));
      pixels.set(prep.pixels, b * 3 * S * S);
      scales.push(prep.scale);
    });
    const out = await this.session.run({ images: { type: "float32", data: pixels, dims: [chunk.length, 3, S, S] } });
    return chunk.map((_, b) => {
      const scores = new Float32Array(N * C);
      const reg = new Float32Array(N * 4);
      let offset = 0;
      adapter.levels.forEach((l) => {
        const cls = out[l.classes]!;
        const box = out[l.boxes]!;
        const [H, W] = [cls.dims[2]!, cls.dims[3]!];
        const K = classChannels(adapter);
        const skip = K - C; // a background logit first (SSD)
        const A = cls.dims[1]! / K; // anchors per location; channel = a·K + c, anchor order (y, x, a)
        const cd = cls.data as Float32Array;
        const bd = box.data as Float32Array;
        for (let p = 0; p < H * W; p++) {
          for (let a = 0; a < A; a++) {
            const row = offset + p * A + a;
            for (let c = 0; c < C; c++) scores[row * C + c] = 1 / (1 + Math.exp(-cd[(b * A * K + a * K + skip + c) * H * W + p]!));
            for (let k = 0; k < 4; k++) reg[row * 4 + k] = bd[(b * A * 4 + a * 4 + k) * H * W + p]!;
          }
        }
        offset += H * W * A;
      });
      const boxes = decodeForAdapter(adapter, reg, layout);
      const k = 1 / scales[b]!;
      return postprocess(scores, boxes, C, this.options.postprocess).map((d) => ({ classIndex: d.classIndex, score: d.score, box: [d.box[0] * k, d.box[1] * k, d.box[2] * k, d.box[3] * k] as [number, number, number, number] }));
    });
  }
}
