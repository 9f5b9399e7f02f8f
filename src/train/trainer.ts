// Runs train-step graphs: parameters and optimizer state stay in the session's hands between steps
// (onnxruntime tensors, GPU buffers on WebGPU), checkpoints save and restore them, and export writes
// the trained weights back into the original model.

import { tensorProto } from "../onnx/builder.ts";
import { clone, type ModelProto, ModelProtoSchema, type TensorProto } from "../onnx/proto.ts";
import type { HostTensor } from "../runtime/host_tensor.ts";
import { type ExecutionProvider, RankSortSession } from "../runtime/session.ts";
import { encodeModel } from "../onnx/model_codec.ts";
import { type Checkpoint, CheckpointError, readCheckpoint, writeCheckpoint } from "./checkpoint.ts";
import { buildTrainStep, LEARNING_RATE, STEP, type TrainStepGraph, type TrainStepSpec } from "./train_step.ts";

function tensorOf(t: TensorProto): HostTensor {
  const bytes = new Uint8Array(t.rawData); // a copy with its own aligned buffer
  return { type: "float32", data: new Float32Array(bytes.buffer, 0, bytes.byteLength / 4), dims: t.dims.map(Number) };
}

export class Trainer {
  private constructor(
    private readonly spec: TrainStepSpec,
    readonly graph: TrainStepGraph,
    private readonly session: RankSortSession,
    private values: Record<string, HostTensor>,
    public step: number,
  ) {}

  static async create(spec: TrainStepSpec, options: { executionProvider?: ExecutionProvider } = {}): Promise<Trainer> {
    const graph = buildTrainStep(spec);
    const session = await RankSortSession.create(encodeModel(graph.model), { executionProvider: options.executionProvider ?? "cpu" });
    const values: Record<string, HostTensor> = {};
    for (const p of graph.parameters) {
      const t = graph.initial[p]!;
      if (!t.rawData.length) throw new CheckpointError(`parameter "${p}" has no raw data (external data must be loaded first)`);
      values[p] = tensorOf(t);
      for (const s of graph.state[p] ?? []) values[s] = { type: "float32", data: new Float32Array(values[p]!.data.length), dims: values[p]!.dims };
    }
    return new Trainer(spec, graph, session, values, 0);
  }

  /** One step on `batch` (the loss's and the model's data inputs); returns the loss before the update. */
  async trainStep(batch: Record<string, HostTensor>, learningRate: number): Promise<number> {
    for (const name of this.graph.dataInputs) if (!(name in batch)) throw new Error(`trainStep: missing input "${name}" (needs: ${this.graph.dataInputs.join(", ")})`);
    const feeds: Record<string, HostTensor> = { ...batch, ...this.values };
    feeds[LEARNING_RATE] = { type: "float32", data: new Float32Array([learningRate]), dims: [] };
    feeds[STEP] = { type: "float32", data: new Float32Array([this.step + 1]), dims: [] };
    const out = await this.session.run(feeds);
    for (const [name, nextName] of Object.entries(this.graph.next)) this.values[name] = out[nextName]!;
    this.step++;
    const loss = (out[this.graph.loss]!.data as Float32Array)[0]!;
    if (!Number.isFinite(loss)) throw new Error(`trainStep: the loss is ${loss} at step ${this.step} (diverged; lower the learning rate or clip gradients)`);
    return loss;
  }

  parameters(): Record<string, HostTensor> {
    return Object.fromEntries(this.graph.parameters.map((p) => [p, this.values[p]!]));
  }

  saveCheckpoint(path: string, config: Record<string, unknown> = {}): void {
    writeCheckpoint(path, { step: this.step, config: { optimizer: this.spec.optimizer, clipGradNorm: this.spec.clipGradNorm, ...config }, tensors: this.values });
  }

  /** Restore weights, optimizer state and step; the checkpoint must match this train step's tensors. */
  loadCheckpoint(path: string): Checkpoint {
    const ckpt = readCheckpoint(path);
    for (const name of Object.keys(this.values)) {
      const t = ckpt.tensors[name];
      if (!t) throw new CheckpointError(`${path}: no tensor "${name}" (the checkpoint belongs to another model or optimizer)`);
      if (t.data.length !== this.values[name]!.data.length) throw new CheckpointError(`${path}: tensor "${name}" has ${t.data.length} values, expected ${this.values[name]!.data.length}`);
    }
    for (const name of Object.keys(this.values)) this.values[name] = ckpt.tensors[name]!;
    this.step = ckpt.step;
    return ckpt;
  }

  /**
   * The inference model with the trained weights: the original graph, names and opset (Identity
   * ties the exporter made between equal initializers become separate initializers of those names).
   */
  exportModel(): ModelProto {
    const out = clone(ModelProtoSchema, this.graph.inferenceModel);
    out.graph!.initializer = out.graph!.initializer.map((t) => {
      const v = this.values[t.name];
      return v ? tensorProto(t.name, "float32", v.data as Float32Array, v.dims) : t;
    });
    return out;
  }
}
