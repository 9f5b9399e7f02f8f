// Runs train-step graphs: parameters and optimizer state stay in the session's hands between steps
// (onnxruntime tensors, GPU buffers on WebGPU), checkpoints save and restore them, and export writes
// the trained weights back into the original model.

import { tensorShell } from "../onnx/builder.ts";
import { clone, create, DataType, type ModelProto, ModelProtoSchema, type TensorProto, TensorProtoSchema } from "../onnx/proto.ts";
import type { HostTensor, OrtTensor } from "../runtime/host_tensor.ts";
import { download } from "../runtime/loss_kernel_backend.ts";
import { type ExecutionProvider, RankSortSession } from "../runtime/session.ts";
import { type Checkpoint, CheckpointError, readCheckpoint, writeCheckpoint } from "./checkpoint.ts";
import { buildMultiStep, type MultiStepGraph } from "./multi_step.ts";
import { buildTrainStep, LEARNING_RATE, STEP, type TrainStepGraph, type TrainStepSpec } from "./train_step.ts";
import { collectGarbage } from "../util/collect_garbage.ts";

/** A float32 view of an initializer's raw data (a copy only where it is not 4-byte aligned). */
function tensorOf(t: TensorProto): HostTensor {
  // The trainer never writes into its values (each step's outputs replace them), so viewing the
  // model's own bytes saves a copy of every parameter: the whole model's size of peak memory.
  const raw = t.rawData;
  const bytes = raw.byteOffset % 4 === 0 ? raw : new Uint8Array(raw);
  return { type: "float32", data: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), dims: t.dims.map(Number) };
}

/**
 * Makes the train step independent of the bytes the model was read from (the file, as a rule): the
 * trained weights are read only by the first step (through the values that view them) and export
 * needs only their names, so the graph keeps shells of them; constants that view a larger buffer get
 * bytes of their own — a few frozen scales would otherwise keep the whole file alive. Once the caller
 * lets go of its model, a step no longer carries a dead copy of every weight. Where the constants
 * outweigh the trained weights (most of the model frozen), they stay views: copying them would cost
 * more than it frees. Before the session is made, so a multi-step graph inherits the copies.
 */
function releaseWeightBytes(graph: TrainStepGraph): void {
  const carried = new Set([...graph.parameters, ...graph.buffers]);
  const m = graph.inferenceModel;
  const constants = [...graph.model.graph!.initializer, ...m.graph!.initializer.filter((t) => !carried.has(t.name))];
  const views = new Set(constants.filter((t) => t.rawData.length && t.rawData.byteLength < t.rawData.buffer.byteLength));
  const bytes = (ts: Iterable<TensorProto>) => [...ts].reduce((sum, t) => sum + t.rawData.length, 0);
  const trained = [...carried].map((name) => graph.initial[name]!);
  const own = bytes(views) <= bytes(trained) ? new Map<string, Uint8Array<ArrayBuffer>>() : undefined;
  // One copy per name: the inference model's frozen initializer and the train graph's constant hold the same bytes.
  const ownCopy = (t: TensorProto) => {
    if (!own || !views.has(t)) return t;
    const data = own.get(t.name) ?? new Uint8Array(t.rawData);
    own.set(t.name, data);
    return { ...t, rawData: data };
  };
  graph.model.graph!.initializer = graph.model.graph!.initializer.map(ownCopy);
  graph.inferenceModel = { ...m, graph: { ...m.graph!, initializer: m.graph!.initializer.map((t) => (carried.has(t.name) ? tensorShell(t) : ownCopy(t))) } };
}

/** The trained weights' bytes, once the first step's values (their views) are replaced, are not needed. */
function shellTrainedInitial(graph: TrainStepGraph): void {
  for (const name of [...graph.parameters, ...graph.buffers]) graph.initial[name] = tensorShell(graph.initial[name]!);
}

/** Steps per session run on the CPU EP: 4 already amortise the per-run output copies to a quarter. */
export const DEFAULT_STEPS_PER_RUN = 4;
/**
 * Carried values (parameters, optimizer state, buffers) up to this size run several steps per run by
 * default. Measured on Node, 2 threads: SSDlite (13 MB carried, plain SGD) 1.09–1.17× → 1.02× PyTorch's step at
 * lower peak memory; R18-FPN FCOS (74 MB) peaked 680 → 860 MB for ≤ 5 % of step time.
 */
export const MULTI_STEP_MAX_BYTES = 64 << 20;

function sameShapes(a: Record<string, HostTensor>, b: Record<string, HostTensor>, names: readonly string[]): boolean {
  return names.every((n) => a[n]!.type === b[n]!.type && a[n]!.dims.join() === b[n]!.dims.join());
}

/** Tensors of one shape stacked along a new first axis. */
function stack(ts: readonly HostTensor[]): HostTensor {
  const first = ts[0]!;
  if (ts.length === 1) return { type: first.type, data: first.data, dims: [1, ...first.dims] };
  const data = new (first.data.constructor as new (n: number) => HostTensor["data"])(first.data.length * ts.length);
  ts.forEach((t, i) => (data as Float32Array).set(t.data as Float32Array, i * first.data.length));
  return { type: first.type, data, dims: [ts.length, ...first.dims] };
}

/** A train step produced non-finite values; it was discarded and the trainer is as before it. */
export class DivergenceError extends Error {
  override name = "DivergenceError";
  constructor(
    readonly step: number,
    readonly learningRate: number,
    readonly what: string,
    consequence = "the step was discarded",
  ) {
    super(`training diverged at step ${step} (learning rate ${learningRate.toPrecision(3)}): ${what}; ${consequence}`);
  }
}

/**
 * Runs a train-step graph (`buildTrainStep`): forward, backward and optimizer update in one session;
 * parameters and optimizer state stay in the session's hands between steps; atomic checkpoints;
 * `exportModel` writes the trained weights back into the original model.
 */
export class Trainer {
  private constructor(
    /** What a checkpoint records of the train step's spec (the spec itself holds the model). */
    private readonly recorded: Pick<TrainStepSpec, "optimizer" | "clipGradNorm">,
    readonly graph: TrainStepGraph,
    private readonly session: RankSortSession,
    /** Parameters and optimizer state: host tensors at first, then whatever the session returned. */
    private values: Record<string, HostTensor | OrtTensor>,
    public step: number,
    /** The session's graph when it runs several steps per run (a Loop over the train step). */
    private readonly multi: MultiStepGraph | undefined,
    /** At most this many steps go into one session run (`trainSteps`). */
    readonly stepsPerRun: number,
  ) {}

  /**
   * `lossKernels`: where the com.ranksort nodes run — "body" (default: their ONNX function bodies,
   * inside the one onnxruntime session) or a kernel backend ("webgpu": the WGSL kernels on
   * onnxruntime-web's device, tensors staying on the GPU; "cpu"; "cuda").
   */
  static async create(
    spec: TrainStepSpec,
    options: { executionProvider?: ExecutionProvider; lossKernels?: string; threads?: number; stepsPerRun?: number } = {},
  ): Promise<Trainer> {
    const graph = buildTrainStep(spec);
    releaseWeightBytes(graph);
    const ep = options.executionProvider ?? "cpu";
    const kernels = Boolean(options.lossKernels && options.lossKernels !== "body");
    // Several steps per run on the CPU EP, where every run copies each output into a fresh JS buffer
    // (onnxruntime-node; ~100 ms of R18-FPN FCOS's step). The Loop holds one more copy of the carried
    // values while it runs and copies them once at its end, so large models stay at one step per run
    // unless asked: past MULTI_STEP_MAX_BYTES the memory costs more than the copies' time buys.
    // Kernels mode runs our nodes between sessions and WebGPU keeps values on the device anyway.
    const carriedBytes = [...graph.parameters, ...graph.buffers].reduce((sum, p) => sum + graph.initial[p]!.rawData.length * (1 + (graph.state[p]?.length ?? 0)), 0);
    const stepsPerRun = options.stepsPerRun ?? (ep === "cpu" && !kernels && carriedBytes <= MULTI_STEP_MAX_BYTES ? DEFAULT_STEPS_PER_RUN : 1);
    if (!(Number.isInteger(stepsPerRun) && stepsPerRun >= 1)) throw new RangeError(`stepsPerRun: expected a whole number ≥ 1, got ${stepsPerRun}`);
    if (stepsPerRun > 1 && kernels) throw new RangeError(`stepsPerRun ${stepsPerRun}: loss kernels "${options.lossKernels}" run between sessions, one step per run`);
    const multi = stepsPerRun > 1 ? buildMultiStep(graph) : undefined;
    // Updated parameters and state stay where the session leaves them (GPU buffers on onnxruntime-web's
    // WebGPU EP) and go straight back in as the next step's inputs; only the loss is read each step.
    const session = await RankSortSession.create(multi?.model ?? graph.model, {
      executionProvider: ep,
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      memoryPattern: false,
      deviceOutputs: Object.values(multi?.carriedOutputs ?? graph.next),
      ...(kernels ? { mode: "kernels" as const, kernelBackend: options.lossKernels } : {}),
    });
    const values: Record<string, HostTensor> = {};
    for (const p of [...graph.parameters, ...graph.buffers]) {
      const t = graph.initial[p]!;
      if (!t.rawData.length) throw new CheckpointError(`parameter "${p}" has no raw data (external data must be loaded first)`);
      const v = tensorOf(t);
      const bad = (v.data as Float32Array).findIndex((x) => !Number.isFinite(x));
      // A broken model is not a learning-rate problem: say so before any step runs.
      if (bad >= 0) throw new CheckpointError(`the model's parameter "${p}" holds ${(v.data as Float32Array)[bad]} at index ${bad} (the model file itself is not finite)`);
      values[p] = v;
      for (const s of graph.state[p] ?? []) values[s] = { type: "float32", data: new Float32Array(v.data.length), dims: v.dims };
    }
    shellTrainedInitial(graph);
    return new Trainer({ optimizer: spec.optimizer, clipGradNorm: spec.clipGradNorm }, graph, session, values, 0, multi, stepsPerRun);
  }

  /**
   * One step on `batch` (the loss's and the model's data inputs); returns the loss before the update.
   * A step whose loss or updated values are not finite is discarded (parameters, optimizer state and
   * step stay as they were) and throws DivergenceError.
   */
  async trainStep(batch: Record<string, HostTensor>, learningRate: number): Promise<number> {
    if (this.multi) return (await this.trainSteps([batch], [learningRate]))[0]!;
    this.requireInputs(batch);
    this.collectOnce();
    const feeds: Record<string, HostTensor | OrtTensor> = { ...batch, ...this.values };
    feeds[LEARNING_RATE] = { type: "float32", data: new Float32Array([learningRate]), dims: [] };
    feeds[STEP] = { type: "float32", data: new Float32Array([this.step + 1]), dims: [] };
    const out = await this.session.runTensors(feeds);
    const loss = ((await download(out[this.graph.loss]!)).data as Float32Array)[0]!;
    const nonFinite = ((await download(out[this.graph.nonFinite]!)).data as Float32Array)[0]!;
    const kept = Number.isFinite(loss) && nonFinite === 0;
    for (const [name, nextName] of Object.entries(this.graph.next)) {
      // The replaced tensors are released as their successors arrive (GPU tensors are the session's
      // outputs, which onnxruntime-web leaves to the caller); a discarded step releases its own.
      const fresh = out[nextName]! as OrtTensor & { dispose?: () => void };
      const old = this.values[name] as OrtTensor & { dispose?: () => void };
      const dropped = kept ? old : fresh;
      if (kept) this.values[name] = fresh;
      if (dropped !== this.values[name] && dropped.location === "gpu-buffer") dropped.dispose?.();
    }
    if (!kept) throw new DivergenceError(this.step + 1, learningRate, Number.isFinite(loss) ? "the updated parameters or optimizer state are not finite" : `the loss is ${loss}`);
    this.step++;
    this.firstStepDone();
    this.lastReport = {};
    for (const [key, name] of Object.entries(this.graph.report)) this.lastReport[key] = ((await download(out[name]!)).data as Float32Array)[0]!;
    return loss;
  }

  /**
   * Steps on `batches` in order, one learning rate each, as few session runs as `stepsPerRun` and the
   * batches' shapes allow; returns each step's loss before its update. As with `trainStep`, a step
   * that diverges is discarded and throws DivergenceError — the steps before it are kept.
   */
  async trainSteps(batches: readonly Record<string, HostTensor>[], learningRates: readonly number[]): Promise<number[]> {
    if (batches.length !== learningRates.length) throw new RangeError(`trainSteps: ${batches.length} batches but ${learningRates.length} learning rates`);
    for (const b of batches) this.requireInputs(b);
    const losses: number[] = [];
    this.stepReports = [];
    for (let i = 0; i < batches.length; ) {
      if (!this.multi) {
        losses.push(await this.trainStep(batches[i]!, learningRates[i]!));
        this.stepReports.push(this.lastReport);
        i++;
        continue;
      }
      // One run: consecutive batches of the same shapes (an epoch's last batch may be smaller).
      let n = 1;
      while (n < this.stepsPerRun && i + n < batches.length && sameShapes(batches[i]!, batches[i + n]!, this.graph.dataInputs)) n++;
      const run = await this.runSteps(batches.slice(i, i + n), learningRates.slice(i, i + n));
      losses.push(...run.losses);
      this.stepReports.push(...run.reports);
      this.lastReport = run.reports.at(-1)!;
      i += n;
    }
    return losses;
  }

  private requireInputs(batch: Record<string, HostTensor>): void {
    for (const name of this.graph.dataInputs) if (!(name in batch)) throw new Error(`trainStep: missing input "${name}" (needs: ${this.graph.dataInputs.join(", ")})`);
  }

  /**
   * One session run of the Loop over `batches`: each step's loss and reported scalars. `keep`: the
   * steps' updates are kept (all of them, or those before the first that diverges, which throws).
   */
  private async runSteps(batches: readonly Record<string, HostTensor>[], learningRates: readonly number[], keep = true): Promise<{ losses: number[]; reports: Record<string, number>[] }> {
    const multi = this.multi!;
    this.collectOnce();
    const feeds: Record<string, HostTensor | OrtTensor> = {};
    for (const [name, outer] of Object.entries(multi.carriedInputs)) feeds[outer] = this.values[name]!;
    for (const name of this.graph.dataInputs) feeds[multi.stackedInputs[name]!] = stack(batches.map((b) => b[name]!));
    feeds[multi.learningRates] = { type: "float32", data: Float32Array.from(learningRates), dims: [learningRates.length] };
    feeds[multi.firstStep] = { type: "float32", data: new Float32Array([this.step + 1]), dims: [] };
    const out = await this.session.runTensors(feeds);
    const losses = Array.from((await download(out[multi.losses]!)).data as Float32Array);
    const flags = (await download(out[multi.nonFinite]!)).data as Float32Array;
    const bad = losses.findIndex((l, i) => !(Number.isFinite(l) && flags[i] === 0));
    if (!keep) return { losses, reports: [] };
    if (bad >= 0) {
      // The loop stopped after the diverged step: its carried values include that step. Running the
      // good steps again from the same values gives exactly their results (same graph, same inputs).
      if (bad > 0) this.lastReport = (await this.runSteps(batches.slice(0, bad), learningRates.slice(0, bad))).reports.at(-1)!;
      const loss = losses[bad]!;
      throw new DivergenceError(this.step + 1, learningRates[bad]!, Number.isFinite(loss) ? "the updated parameters or optimizer state are not finite" : `the loss is ${loss}`);
    }
    for (const [name, outer] of Object.entries(multi.carriedOutputs)) this.values[name] = out[outer]!;
    this.step += losses.length;
    this.firstStepDone();
    const reported = await Promise.all(Object.entries(multi.report).map(async ([key, name]) => [key, (await download(out[name]!)).data as Float32Array] as const));
    return { losses, reports: losses.map((_, i) => Object.fromEntries(reported.map(([key, v]) => [key, v[i]!]))) };
  }

  /**
   * The loss at the current parameters on `batch`, nothing updated (a step run and discarded): the
   * check that the last step of an epoch left a model that still computes, before it is committed.
   */
  async lossAt(batch: Record<string, HostTensor>): Promise<number> {
    if (this.multi) return (await this.runSteps([batch], [0], false)).losses[0]!;
    const feeds: Record<string, HostTensor | OrtTensor> = { ...batch, ...this.values };
    feeds[LEARNING_RATE] = { type: "float32", data: new Float32Array([0]), dims: [] };
    feeds[STEP] = { type: "float32", data: new Float32Array([this.step + 1]), dims: [] };
    const out = await this.session.runTensors(feeds);
    const loss = ((await download(out[this.graph.loss]!)).data as Float32Array)[0]!;
    for (const nextName of Object.values(this.graph.next)) {
      const t = out[nextName] as OrtTensor & { dispose?: () => void };
      if (t.location === "gpu-buffer" && !Object.values(this.values).includes(t)) t.dispose?.();
    }
    return loss;
  }

  /** false before the first kept step, true until the run after it has collected, then undefined. */
  private collectAtNextRun: boolean | undefined = false;

  private firstStepDone(): void {
    if (this.collectAtNextRun === false) this.collectAtNextRun = true;
  }

  /**
   * Once the first step's results have replaced the starting values, those (a copy of every trained
   * weight) and whatever still held the model file's bytes are garbage. One full collection before
   * the second step frees them before that step allocates as much again on top; V8's own next major
   * collection may come later (R18-FPN FCOS, batch 2: peak 653 → 614 MB). At the start of the next
   * run, not the end of the first: the first step's own feeds still reach the old values there.
   */
  private collectOnce(): void {
    if (!this.collectAtNextRun) return;
    this.collectAtNextRun = undefined;
    collectGarbage();
  }

  /** The reported scalars of the last step (the loss spec's `report`). */
  lastReport: Record<string, number> = {};

  /** The reported scalars of each step of the last `trainSteps` call. */
  stepReports: Record<string, number>[] = [];

  /** Host copies of named values (downloaded from the device where they live there). */
  private async host(names: Iterable<string>): Promise<Record<string, HostTensor>> {
    const out: Record<string, HostTensor> = {};
    for (const n of names) out[n] = await download(this.values[n] as OrtTensor);
    return out;
  }

  parameters(): Promise<Record<string, HostTensor>> {
    return this.host(this.graph.parameters);
  }

  async saveCheckpoint(path: string, config: Record<string, unknown> = {}): Promise<void> {
    writeCheckpoint(path, await this.checkpoint(config));
  }

  /** Weights, optimizer state, step and config, as a checkpoint to write or encode. */
  async checkpoint(config: Record<string, unknown> = {}): Promise<Checkpoint> {
    const tensors = await this.host(Object.keys(this.values));
    return { step: this.step, config: { optimizer: this.recorded.optimizer, clipGradNorm: this.recorded.clipGradNorm, ...config }, tensors };
  }

  /** Restore weights, optimizer state and step; the checkpoint must match this train step's tensors. */
  loadCheckpoint(path: string): Checkpoint {
    return this.restore(readCheckpoint(path), path);
  }

  /** Restore from a checkpoint already read (`path` labels errors). */
  restore(ckpt: Checkpoint, path: string): Checkpoint {
    for (const name of Object.keys(this.values)) {
      const t = ckpt.tensors[name];
      if (!t) throw new CheckpointError(`${path}: no tensor "${name}" (the checkpoint belongs to another model or optimizer)`);
      const want = this.values[name]!.dims.reduce((a, b) => a * b, 1);
      if (t.data.length !== want) throw new CheckpointError(`${path}: tensor "${name}" has ${t.data.length} values, expected ${want}`);
    }
    for (const name of Object.keys(this.values)) this.values[name] = ckpt.tensors[name]!;
    this.step = ckpt.step;
    return ckpt;
  }

  /**
   * Frees the session's onnxruntime memory (its arena holds a step's activations and gradients) now
   * rather than at some later garbage collection; checkpoints and export need the values only, which
   * stay. Steps fail after this.
   */
  release(): Promise<void> {
    return this.session.release();
  }

  /**
   * The inference model with the trained weights: the original graph, names and opset (Identity
   * ties the exporter made between equal initializers become separate initializers of those names).
   * Its trained weights view the trainer's current values: copy one before changing it.
   */
  async exportModel(): Promise<ModelProto> {
    const out = clone(ModelProtoSchema, this.graph.inferenceModel);
    const trained = await this.host([...this.graph.parameters, ...this.graph.buffers]);
    // The trained tensors view the trainer's values (which no step writes into: each replaces them),
    // so an export is encoded without first copying every weight once more.
    out.graph!.initializer = out.graph!.initializer.map((t) => {
      const v = trained[t.name];
      if (!v) return t;
      const data = v.data as Float32Array;
      return create(TensorProtoSchema, { name: t.name, dataType: DataType.FLOAT, dims: v.dims.map(BigInt), rawData: new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength) });
    });
    // BatchNorm exported in training mode becomes the inference form, using the running statistics.
    const outputs = new Set(out.graph!.output.map((o) => o.name));
    for (const n of out.graph!.node) {
      if (n.opType !== "BatchNormalization") continue;
      n.attribute = n.attribute.filter((a) => a.name !== "training_mode");
      n.output = n.output.slice(0, 1).concat(n.output.slice(1).filter((o) => outputs.has(o)).length ? n.output.slice(1) : []);
    }
    return out;
  }
}
