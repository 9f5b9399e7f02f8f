// Loss backends that run our ops' portable function bodies in onnxruntime (node or web, any EP):
// the standalone model of each op, one cached session per (op, δ, eps).

import type { ALRPLossResult, APLossResult, RankSortResult } from "../../kernels/cpu/index.ts";
import { countPositivesAndRelevant } from "../../kernels/cpu/inputs.ts";
import { encodeModel } from "../onnx/model_codec.ts";
import { type LossOpName, standaloneLossModel } from "../ops/standalone_model.ts";
import type { BodyPrecision } from "../ops/bodies/ranking_terms.ts";
import type { LossBackend } from "./loss_backend.ts";

/** The slice of onnxruntime's API this backend uses (onnxruntime-node and -web share it). */
export interface OrtLike {
  Tensor: new (type: "float32", data: Float32Array, dims: number[]) => unknown;
  InferenceSession: { create(model: Uint8Array, options?: object): Promise<OrtSession> };
}
interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown; dims: readonly number[] }>>;
}

export class OrtLossBackend implements LossBackend {
  private readonly sessions = new Map<string, Promise<OrtSession>>();

  constructor(
    readonly name: string,
    readonly description: string,
    private readonly ort: OrtLike,
    private readonly sessionOptions: object,
    private readonly precision: BodyPrecision = "float64",
  ) {}

  private session(op: LossOpName, delta: number | undefined, eps: number | undefined): Promise<OrtSession> {
    const key = `${op}:${delta}:${eps}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = this.ort.InferenceSession.create(encodeModel(standaloneLossModel(op, { delta, eps, precision: this.precision })), this.sessionOptions);
      this.sessions.set(key, s);
    }
    return s;
  }

  private async run(op: LossOpName, delta: number | undefined, eps: number | undefined, inputs: Record<string, Float32Array>) {
    const feeds: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(inputs)) feeds[k] = new this.ort.Tensor("float32", v, [v.length]);
    return (await this.session(op, delta, eps)).run(feeds);
  }

  async rankSort(logits: Float32Array, targets: Float32Array, opts: { delta?: number; eps?: number }): Promise<RankSortResult> {
    const out = await this.run("RankSortLoss", opts.delta, opts.eps, { logits, targets });
    const counts = countPositivesAndRelevant(logits, targets, "greater-than-zero", opts.delta ?? 0.5);
    return {
      rankingLoss: scalar(out.ranking_loss!.data),
      sortingLoss: scalar(out.sorting_loss!.data),
      grad: out.grad!.data as Float32Array,
      gradRanking: out.grad_ranking!.data as Float32Array,
      gradSorting: out.grad_sorting!.data as Float32Array,
      numPositives: counts.positives,
      numRelevantNegatives: counts.relevantNegatives,
    };
  }

  async ap(logits: Float32Array, targets: Float32Array, opts: { delta?: number }): Promise<APLossResult> {
    const out = await this.run("APLoss", opts.delta, undefined, { logits, targets });
    const counts = countPositivesAndRelevant(logits, targets, "exactly-one", opts.delta ?? 1);
    return { loss: scalar(out.loss!.data), grad: out.grad!.data as Float32Array, numPositives: counts.positives, numRelevantNegatives: counts.relevantNegatives };
  }

  async alrp(logits: Float32Array, targets: Float32Array, regressionLosses: Float32Array, opts: { delta?: number; eps?: number }): Promise<ALRPLossResult> {
    const out = await this.run("ALRPLoss", opts.delta, opts.eps, { logits, targets, regression_losses: regressionLosses });
    const counts = countPositivesAndRelevant(logits, targets, "exactly-one", opts.delta ?? 1);
    return {
      loss: scalar(out.loss!.data),
      grad: out.grad!.data as Float32Array,
      rank: out.rank!.data as Float32Array,
      order: Int32Array.from(out.order!.data as BigInt64Array, Number),
      numPositives: counts.positives,
      numRelevantNegatives: counts.relevantNegatives,
    };
  }
}

function scalar(data: unknown): number {
  return Number((data as ArrayLike<number>)[0]);
}
