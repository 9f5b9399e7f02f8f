// RankSort, AP and aLRP on a GPUDevice: inputs and outputs are GPU buffers, nothing is read back
// except the losses and status words when the caller asks. Pipelines are compiled once per device;
// the working buffers (state, pools) once per capacity class; bind groups once per buffer set.
//
// Pass order (each a compute pass; the per-positive ones use indirect dispatch sized on the GPU):
//   scan_inputs → setup → sort → edges → [loss pairs] → negative_counts → count_prefix →
//   false_positives → [loss weights] → weight_prefix → segment_coefficients → negative_grads → [losses]

import { ENTRY_POINTS, type EntryPoint, WGSL_SOURCE } from "./wgsl/index.ts";
import { accumulatorWords, NO_INDEX, orderOffsetWords, positivePoolWords, segmentPoolWords, STATE, WORKGROUP } from "./layout.ts";

import { dataBuffer, MAP_READ_MODE, USAGE } from "./buffer_io.ts";

export { USAGE };

export type LossKind = "rank-sort" | "ap" | "alrp";

export interface LossSettings {
  delta: number;
  /** RankSort: 1e-10 by default; aLRP: 1e-5. Unused by AP. */
  eps: number;
}

export interface GpuLossInputs {
  logits: GPUBuffer;
  targets: GPUBuffer;
  /** Number of elements of logits and targets. */
  n: number;
  /** aLRP: one regression loss per positive, in flattened order. */
  regression?: { buffer: GPUBuffer; count: number };
}

export interface GpuLossOutputs {
  /** RankSort: gradient of the ranking loss; AP/aLRP: the gradient (n floats). */
  grad0: GPUBuffer;
  /** RankSort: gradient of the sorting loss (n floats); aLRP: rank (one per positive). */
  grad1?: GPUBuffer;
  /** aLRP: the int64 `order` (one per positive). */
  order?: GPUBuffer;
  /** Scalar float32 buffers that receive the losses (RankSort: ranking, sorting; AP/aLRP: loss). */
  losses?: GPUBuffer[];
}

/** Upstream gradients for the Grad ops: scalar float32 GPU buffers. */
export interface GpuUpstream {
  d0: GPUBuffer;
  d1?: GPUBuffer;
}

export class WebGpuKernelError extends Error {
  override name = "WebGpuKernelError";
}

export interface RunStatus {
  losses: number[];
  numPositives: number;
  numRelevantNegatives: number;
}

/** What one run left in its state words, read back on request and checked for errors. */
export class PendingRun {
  private result?: Promise<Uint32Array>;
  constructor(
    private readonly staging: GPUBuffer,
    private readonly describe: (state: Uint32Array) => string | undefined,
    private readonly kind: LossKind,
    private readonly release: (b: GPUBuffer) => void,
    private readonly validation: Promise<GPUError | null>,
  ) {}

  private words(): Promise<Uint32Array> {
    this.result ??= this.staging.mapAsync(MAP_READ_MODE).then(() => {
      const words = new Uint32Array(this.staging.getMappedRange().slice(0));
      this.staging.unmap();
      this.release(this.staging);
      return words;
    });
    return this.result;
  }

  /** Wait for the run, throw a clear error if its inputs were bad, and return the losses and counts. */
  async status(): Promise<RunStatus> {
    const error = await this.validation;
    if (error) throw new WebGpuKernelError(`${LOSS_NAMES[this.kind]}: WebGPU rejected the run: ${error.message}`);
    const words = await this.words();
    const problem = this.describe(words);
    if (problem) throw new WebGpuKernelError(problem);
    const f = new Float32Array(words.buffer);
    return {
      losses: this.kind === "rank-sort" ? [f[STATE.loss0]!, f[STATE.loss1]!] : [f[STATE.loss0]!],
      numPositives: words[STATE.positives]!,
      numRelevantNegatives: words[STATE.relevantNegatives]!,
    };
  }
}

interface Workspace {
  capacity: number;
  state: GPUBuffer;
  positives: GPUBuffer;
  segments: GPUBuffer;
  accumulators: GPUBuffer;
  params: GPUBuffer;
  /** Indirect dispatch sizes, copied out of `state` after setup: a buffer bound for a dispatch cannot also be its indirect buffer. */
  dispatch: GPUBuffer;
  scratch: Map<number, GPUBuffer>; // n-float scratch for RankSortLossGrad's sorting gradient
}

const LOSS_NAMES: Record<LossKind, string> = { "rank-sort": "RankSortLoss", ap: "APLoss", alrp: "ALRPLoss" };
const compiled = new WeakMap<GPUDevice, Promise<{ layout: GPUBindGroupLayout; pipelines: Map<EntryPoint, GPUComputePipeline> }>>();

async function compile(device: GPUDevice) {
  let c = compiled.get(device);
  if (!c) {
    c = (async () => {
      const storage = (binding: number, readOnly = false): GPUBindGroupLayoutEntry => ({
        binding,
        visibility: 4 /* COMPUTE */,
        buffer: { type: readOnly ? "read-only-storage" : "storage" },
      });
      const layout = device.createBindGroupLayout({
        entries: [
          { binding: 0, visibility: 4, buffer: { type: "uniform" } },
          storage(1, true),
          storage(2, true),
          ...[3, 4, 5, 6, 7, 8].map((b) => storage(b)),
        ],
      });
      device.pushErrorScope("validation");
      const module = device.createShaderModule({ code: WGSL_SOURCE, label: "ranksort" });
      const info = await module.getCompilationInfo?.();
      const errors = info?.messages.filter((m) => m.type === "error") ?? [];
      if (errors.length) {
        await device.popErrorScope();
        throw new WebGpuKernelError(`WGSL compilation failed: ${errors.map((m) => `line ${m.lineNum}: ${m.message}`).join("; ")}`);
      }
      const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout] });
      const pipelines = new Map<EntryPoint, GPUComputePipeline>();
      await Promise.all(
        ENTRY_POINTS.map(async (entryPoint) => {
          pipelines.set(entryPoint, await device.createComputePipelineAsync({ layout: pipelineLayout, compute: { module, entryPoint }, label: entryPoint }));
        }),
      );
      const err = await device.popErrorScope();
      if (err) throw new WebGpuKernelError(`creating the WebGPU pipelines failed: ${err.message}`);
      return { layout, pipelines };
    })();
    compiled.set(device, c);
  }
  return c;
}

export interface KernelOptions {
  /** Most positives one call may have (the per-positive passes are O(P²) pairwise). Default 65536. */
  maxPositives?: number;
}

export class WebGpuLossKernels {
  private workspace?: Workspace;
  private readonly bindGroups = new WeakMap<GPUBuffer, WeakMap<GPUBuffer, WeakMap<GPUBuffer, WeakMap<GPUBuffer, GPUBindGroup>>>>();
  private readonly stagingPool: GPUBuffer[] = [];
  private readonly dummy: GPUBuffer;
  /** A second unused buffer for read-only slots: one buffer may not be bound read-only and writable at once. */
  private readonly dummyRead: GPUBuffer;

  private constructor(
    readonly device: GPUDevice,
    private readonly layout: GPUBindGroupLayout,
    private readonly pipelines: Map<EntryPoint, GPUComputePipeline>,
    readonly maxPositives: number,
  ) {
    this.dummy = device.createBuffer({ size: 16, usage: USAGE.STORAGE, label: "ranksort-unused" });
    this.dummyRead = device.createBuffer({ size: 16, usage: USAGE.STORAGE, label: "ranksort-unused-read" });
  }

  static async create(device: GPUDevice, options: KernelOptions = {}): Promise<WebGpuLossKernels> {
    const { layout, pipelines } = await compile(device);
    return new WebGpuLossKernels(device, layout, pipelines, options.maxPositives ?? 65536);
  }

  /** Working buffers for at least `capacity` positives, grown by powers of two and then reused. */
  private workspaceFor(capacity: number): Workspace {
    const w = this.workspace;
    if (w && w.capacity >= capacity) return w;
    let c = 64;
    while (c < capacity) c *= 2;
    if (w) for (const b of [w.state, w.positives, w.segments, w.accumulators, w.params, w.dispatch, ...w.scratch.values()]) b.destroy();
    const storage = (words: number, label: string, extra = 0) =>
      this.device.createBuffer({ size: 4 * words, usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST | extra, label });
    this.workspace = {
      capacity: c,
      state: storage(STATE.words, "ranksort-state"),
      positives: storage(positivePoolWords(c), "ranksort-positives"),
      segments: storage(segmentPoolWords(c), "ranksort-segments"),
      accumulators: storage(accumulatorWords(c), "ranksort-accumulators"),
      params: this.device.createBuffer({ size: 48, usage: USAGE.UNIFORM | USAGE.COPY_DST, label: "ranksort-params" }),
      dispatch: this.device.createBuffer({ size: 24, usage: USAGE.INDIRECT | USAGE.COPY_DST, label: "ranksort-dispatch" }),
      scratch: new Map(),
    };
    return this.workspace;
  }

  /** An n-float scratch buffer, one per size class. */
  scratch(n: number): GPUBuffer {
    const w = this.workspaceFor(64);
    let size = 256;
    while (size < n) size *= 2;
    let b = w.scratch.get(size);
    if (!b) {
      b = dataBuffer(this.device, 4 * size, "ranksort-scratch");
      w.scratch.set(size, b);
    }
    return b;
  }

  private bindGroup(w: Workspace, logits: GPUBuffer, targets: GPUBuffer, out0: GPUBuffer, out1: GPUBuffer): GPUBindGroup {
    const get = <K extends object, V>(m: WeakMap<K, V>, k: K, make: () => V): V => {
      let v = m.get(k);
      if (v === undefined) m.set(k, (v = make()));
      return v;
    };
    const byTargets = get(this.bindGroups, logits, () => new WeakMap());
    const byOut0 = get(byTargets, targets, () => new WeakMap());
    const byOut1 = get(byOut0, out0, () => new WeakMap());
    return get(byOut1, out1, () =>
      this.device.createBindGroup({
        layout: this.layout,
        entries: [w.params, logits, targets, out0, out1, w.state, w.positives, w.segments, w.accumulators].map((buffer, binding) => ({ binding, resource: { buffer } })),
      }),
    );
  }

  /**
   * Encode and submit one loss. The gradient buffers are fully written (zeros where the gradient is
   * zero). Returns a handle whose status() reads back the losses and reports bad inputs.
   */
  run(kind: LossKind, inputs: GpuLossInputs, settings: LossSettings, outputs: GpuLossOutputs, upstream?: GpuUpstream): PendingRun {
    const name = LOSS_NAMES[kind];
    const { n } = inputs;
    if (!Number.isInteger(n) || n <= 0) throw new WebGpuKernelError(`${name}: logits is empty (expected at least one element)`);
    if (n >= 2 ** 31) throw new WebGpuKernelError(`${name}: ${n} logits exceed the WebGPU kernels' limit of 2^31 − 1`);
    if (!(settings.delta >= 0) || !Number.isFinite(settings.delta)) throw new WebGpuKernelError(`${name}: delta must be a finite number >= 0, got ${settings.delta}`);
    if (!(settings.eps >= 0) || !Number.isFinite(settings.eps)) throw new WebGpuKernelError(`${name}: eps must be a finite number >= 0, got ${settings.eps}`);
    const regressionCount = inputs.regression?.count ?? 0;
    if (kind === "alrp" && !inputs.regression) throw new WebGpuKernelError(`${name}: regression_losses is required`);
    const w = this.workspaceFor(Math.max(Math.min(n, this.maxPositives), regressionCount));
    const device = this.device;
    device.pushErrorScope("validation");

    const params = new ArrayBuffer(48);
    const u = new Uint32Array(params);
    const f = new Float32Array(params);
    const delta = Math.fround(settings.delta);
    u[0] = n;
    u[1] = w.capacity;
    u[2] = kind === "rank-sort" ? 0 : 1;
    u[3] = kind === "alrp" ? 1 : 0;
    f[4] = delta;
    f[5] = Math.fround(2 * delta);
    f[6] = settings.eps;
    f[7] = kind === "rank-sort" ? 1 : 0.5;
    f[8] = delta > 0 ? 2 ** 30 / f[5]! : 0;
    u[9] = regressionCount;
    device.queue.writeBuffer(w.params, 0, params);
    const init = new Uint32Array(STATE.words);
    init[STATE.minPositiveKey] = 0xffffffff;
    init[STATE.badLogit] = init[STATE.badTarget] = init[STATE.nanTarget] = init[STATE.badRegression] = NO_INDEX;
    device.queue.writeBuffer(w.state, 0, init);

    const out0 = outputs.grad0;
    const out1 = kind === "rank-sort" ? (outputs.grad1 ?? this.scratch(n)) : kind === "alrp" ? (outputs.grad1 ?? this.scratch(Math.max(regressionCount, 1))) : this.dummy;
    const bindGroup = this.bindGroup(w, inputs.logits, inputs.targets, out0, out1);
    const encoder = device.createCommandEncoder({ label: name });
    encoder.clearBuffer(w.accumulators);
    encoder.clearBuffer(out0, 0, 4 * n);
    if (kind === "rank-sort") encoder.clearBuffer(out1, 0, 4 * n);
    if (kind === "alrp" && regressionCount > 0) {
      encoder.copyBufferToBuffer(inputs.regression!.buffer, 0, w.positives, 4 * 16 * w.capacity, 4 * regressionCount);
    }
    if (upstream) {
      encoder.copyBufferToBuffer(upstream.d0, 0, w.state, 4 * STATE.upstream0, 4);
      if (upstream.d1) encoder.copyBufferToBuffer(upstream.d1, 0, w.state, 4 * STATE.upstream1, 4);
    }

    const overN = Math.min(Math.ceil(n / WORKGROUP), 65535);
    let pass = encoder.beginComputePass({ label: `${name} inputs` });
    pass.setBindGroup(0, bindGroup);
    const direct = (entry: EntryPoint, groups: number) => {
      pass.setPipeline(this.pipelines.get(entry)!);
      pass.dispatchWorkgroups(groups);
    };
    const overPositives = (entry: EntryPoint) => {
      pass.setPipeline(this.pipelines.get(entry)!);
      pass.dispatchWorkgroupsIndirect(w.dispatch, 0);
    };
    const overSegments = (entry: EntryPoint) => {
      pass.setPipeline(this.pipelines.get(entry)!);
      pass.dispatchWorkgroupsIndirect(w.dispatch, 12);
    };
    direct("scan_inputs", overN);
    direct("setup", 1);
    pass.end();
    encoder.copyBufferToBuffer(w.state, 4 * STATE.positiveDispatch, w.dispatch, 0, 24);
    pass = encoder.beginComputePass({ label: name });
    pass.setBindGroup(0, bindGroup);
    overPositives("sort");
    overPositives("edges");
    overPositives(kind === "rank-sort" ? "rank_sort_pairs" : "ap_pairs");
    if (kind === "rank-sort") overPositives("rank_sort_receive");
    direct("negative_counts", overN);
    direct("count_prefix", 1);
    overPositives("false_positives");
    overPositives(kind === "rank-sort" ? "rank_sort_weights" : kind === "ap" ? "ap_weights" : "alrp_weights");
    direct("weight_prefix", 1);
    overSegments("segment_coefficients");
    direct("negative_grads", overN);
    direct(kind === "rank-sort" ? "rank_sort_losses" : "mean_loss", 1);
    if (upstream) direct(kind === "rank-sort" ? "combine_rank_sort" : "scale_grad", overN);
    pass.end();

    if (kind === "alrp" && outputs.order && regressionCount > 0) {
      encoder.copyBufferToBuffer(w.positives, 4 * orderOffsetWords(w.capacity), outputs.order, 0, 8 * regressionCount);
    }
    outputs.losses?.forEach((b, i) => encoder.copyBufferToBuffer(w.state, 4 * (STATE.loss0 + i), b, 0, 4));
    const staging = this.stagingPool.pop() ?? device.createBuffer({ size: 4 * STATE.words, usage: USAGE.MAP_READ | USAGE.COPY_DST, label: "ranksort-status" });
    encoder.copyBufferToBuffer(w.state, 0, staging, 0, 4 * STATE.words);
    device.queue.submit([encoder.finish()]);
    const validation = device.popErrorScope();
    return new PendingRun(staging, (words) => describeProblem(name, words, w.capacity, regressionCount, kind === "alrp"), kind, (b) => this.stagingPool.push(b), validation);
  }
  /**
   * A Grad op from gradients a forward run of the same inputs left on the GPU: out = d0·grad0
   * (+ d1·grad1 for RankSort) — one pass over n instead of the whole loss.
   */
  reweight(kind: LossKind, n: number, from: { grad0: GPUBuffer; grad1?: GPUBuffer }, out: GPUBuffer, upstream: GpuUpstream): void {
    const w = this.workspaceFor(64);
    const device = this.device;
    const params = new Uint32Array(12);
    params[0] = n;
    params[1] = w.capacity;
    device.queue.writeBuffer(w.params, 0, params);
    const encoder = device.createCommandEncoder({ label: "reweight" });
    encoder.copyBufferToBuffer(from.grad0, 0, out, 0, 4 * n);
    encoder.copyBufferToBuffer(upstream.d0, 0, w.state, 4 * STATE.upstream0, 4);
    if (upstream.d1) encoder.copyBufferToBuffer(upstream.d1, 0, w.state, 4 * STATE.upstream1, 4);
    const second = kind === "rank-sort" ? from.grad1! : this.dummy;
    const pass = encoder.beginComputePass({ label: "reweight" });
    pass.setBindGroup(0, this.bindGroup(w, this.dummyRead, this.dummyRead, out, second));
    pass.setPipeline(this.pipelines.get(kind === "rank-sort" ? "combine_rank_sort" : "scale_grad")!);
    pass.dispatchWorkgroups(Math.min(Math.ceil(n / WORKGROUP), 65535));
    pass.end();
    device.queue.submit([encoder.finish()]);
  }
}

/** The error a run's state words report, worded as the CPU kernels word it (without the values). */
function describeProblem(name: string, s: Uint32Array, capacity: number, regressionCount: number, hasRegression: boolean): string | undefined {
  const badLogit = s[STATE.badLogit]!;
  const badTarget = s[STATE.badTarget]!;
  const nanTarget = s[STATE.nanTarget]!;
  const first = Math.min(badLogit, badTarget, nanTarget);
  if (first !== NO_INDEX) {
    if (first === nanTarget) return `${name}: targets[${first}] is NaN; mark ignored entries with -1`;
    if (first === badTarget) {
      return hasRegression || name === "APLoss"
        ? `${name}: targets[${first}] is not 1; expected 1 (positive), 0 (negative) or a negative value such as -1 (ignored)`
        : `${name}: targets[${first}] = Infinity; positive targets must be finite (they are the sorting targets, e.g. IoUs)`;
    }
    return `${name}: logits[${first}] is not finite; only ignored entries (target < 0) may hold non-finite logits`;
  }
  const found = s[STATE.positives]!;
  if (found > capacity) return `${name}: ${found} positives exceed this WebGPU backend's capacity of ${capacity} (option maxPositives)`;
  if (hasRegression && found !== regressionCount) {
    return `${name}: regression_losses has ${regressionCount} elements but there are ${found} positives (targets == 1); give one per positive, in flattened order`;
  }
  if (s[STATE.badRegression] !== NO_INDEX) return `${name}: regression_losses[${s[STATE.badRegression]}] is not finite`;
  return undefined;
}
