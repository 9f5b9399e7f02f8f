// One session API over onnxruntime-node and onnxruntime-web, for graphs with com.ranksort nodes.
//
//   inline  — the ops' function bodies travel in the model; one onnxruntime session runs it all.
//   kernels — the graph is split at our nodes: standard parts run as onnxruntime sessions on the
//             chosen execution provider, our nodes run in a kernel backend (the CPU kernels by
//             default; WebGPU and CUDA backends plug in through the same registry).

import { decodeModel, encodeModel } from "../onnx/model_codec.ts";
import { clone, create, type ModelProto, ModelProtoSchema, TypeProto_TensorSchema, TypeProtoSchema } from "../onnx/proto.ts";
import { assertValidModel } from "../onnx/validate.ts";
import { lacksFunctionBodies, withFunctionBodies } from "../ops/library.ts";
import { type HostTensor, type OrtInferenceSession, type OrtModule, type OrtTensor, RuntimeError, toOrt } from "./host_tensor.ts";
import { download } from "./loss_kernel_backend.ts";
import { getKernelBackend, type KernelBackend } from "./kernel_backend.ts";
import { splitAtCustomNodes, type Step } from "./split_graph.ts";
import { nodeBuiltin } from "../util/node_builtins.ts";
import { missingPeer } from "./peer_packages.ts";

export { withFunctionBodies };

export type ExecutionProvider = "cpu" | "wasm" | "webgpu" | "cuda";
export type CustomOpMode = "inline" | "kernels";

export interface RuntimeOptions {
  executionProvider?: ExecutionProvider;
  mode?: CustomOpMode;
  /** Kernel backend for our nodes in kernels mode (default "cpu": the CPU kernels). */
  kernelBackend?: string;
  /**
   * Inline mode: outputs to leave on the device (GPU buffers) where the host allows it — onnxruntime-
   * web's WebGPU EP; onnxruntime-node's WebGPU EP cannot read such buffers back, so there they stay
   * host tensors. Feed them back into `runTensors` to keep values on the GPU between runs.
   */
  deviceOutputs?: readonly string[];
  /**
   * onnxruntime-node's intra-op threads (CPU EP; default: the host's logical cores). Left to
   * onnxruntime, it pins one thread per physical core and a train step ran 25–30 % slower on 2 cores.
   */
  threads?: number;
  /**
   * onnxruntime's memory pattern (one planned block per run, default on). A train step turns it off:
   * measured on R18-FPN FCOS, 290 MB less peak memory at the same speed (the arena still reuses).
   */
  memoryPattern?: boolean;
  /**
   * onnxruntime's graph optimizations (default "all"). "basic" skips the layout and fusion passes:
   * for a session run once (a probe measuring shapes, a check that a file still runs) that saves
   * more than it costs — a ResNet-50 detector's session is built in 0.3 s instead of 1.2–2.5 s.
   */
  optimization?: "basic" | "all";
}

/** The host's logical cores (navigator.hardwareConcurrency in Bun, Deno, Node ≥ 21 and browsers). */
function hostCores(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  if (n && n > 0) return n;
  try {
    return nodeBuiltin("node:os", "the CPU thread count").availableParallelism();
  } catch {
    return 1;
  }
}

const DTYPE_CODE: Record<string, number> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float64: 11 };

/** onnxruntime-node lists cuda always; the provider library exists only after its CUDA install step. */
function cudaProviderInstalled(): boolean {
  try {
    const { existsSync } = nodeBuiltin("node:fs", "the CUDA execution provider");
    const { dirname, join } = nodeBuiltin("node:path", "the CUDA execution provider");
    const { createRequire } = nodeBuiltin("node:module", "the CUDA execution provider");
    const pkg = dirname(createRequire(import.meta.url).resolve("onnxruntime-node/package.json"));
    const bin = join(pkg, "bin", "napi-v6", process.platform, process.arch);
    return existsSync(join(bin, "libonnxruntime_providers_cuda.so")) || existsSync(join(bin, "onnxruntime_providers_cuda.dll"));
  } catch {
    return false;
  }
}

/** The onnxruntime package and session options for an execution provider, with a clear error when unavailable. */
async function loadOrt(ep: ExecutionProvider, preferWeb = false, threads?: number, memoryPattern = true): Promise<{ ort: OrtModule; options: Record<string, unknown>; gpuBuffers?: boolean }> {
  if (ep === "cpu" || ep === "cuda") {
    const ort = (await import("onnxruntime-node").catch(missingPeer("onnxruntime-node", `execution provider ${ep}`))) as unknown as OrtModule & { listSupportedBackends?: () => { name: string; bundled: boolean }[] };
    if (ep === "cuda" && !cudaProviderInstalled()) {
      throw new RuntimeError(
        "execution provider cuda is not available in this onnxruntime-node build: its CUDA provider library is not installed " +
          "(with internet access: ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node)",
      );
    }
    return { ort, options: { executionProviders: [ep], intraOpNumThreads: threads ?? hostCores(), ...(memoryPattern ? {} : { enableMemPattern: false }) } };
  }
  // onnxruntime-web logs its warnings (node placement, buffer reuse) through console.error, which a
  // page shows as errors: its sessions log errors only.
  if (ep === "wasm") return { ort: (await import("onnxruntime-web").catch(missingPeer("onnxruntime-web", "execution provider wasm"))) as unknown as OrtModule, options: { executionProviders: ["wasm"], logSeverityLevel: 3 } };
  if (ep === "webgpu") {
    // Deno and browsers: onnxruntime-web's WebGPU EP on navigator.gpu. Bun and Node: onnxruntime-node's
    // bundled WebGPU EP (Dawn), which needs a Vulkan driver (a GPU's, or SwiftShader's) — unless a GPU
    // kernel backend must share onnxruntime-web's device: then it gave the host a navigator.gpu.
    if ((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) {
      return { ort: await importOrtWebGpu(), options: { executionProviders: ["webgpu"], logSeverityLevel: 3 }, gpuBuffers: true };
    }
    if (preferWeb) throw new RuntimeError("execution provider webgpu: this host has no navigator.gpu for onnxruntime-web");
    const ort = (await import("onnxruntime-node").catch(missingPeer("onnxruntime-node", "execution provider webgpu without navigator.gpu"))) as unknown as OrtModule & { listSupportedBackends?: () => { name: string }[] };
    if (!ort.listSupportedBackends?.().some((b) => b.name === "webgpu")) {
      throw new RuntimeError("execution provider webgpu: this host has no navigator.gpu and this onnxruntime-node build has no WebGPU EP");
    }
    return { ort, options: { executionProviders: ["webgpu"] } };
  }
  throw new RuntimeError(`unknown execution provider "${ep as string}"; use cpu, wasm, webgpu or cuda`);
}

/** onnxruntime-web's WebGPU build; Node cannot ESM-import that subpath ("Dynamic require of node:os"), so require it there. */
async function importOrtWebGpu(): Promise<OrtModule> {
  const g = globalThis as { Bun?: unknown; Deno?: unknown; process?: { versions?: { node?: string } }; window?: unknown };
  if (!g.Bun && !g.Deno && !g.window && g.process?.versions?.node) {
    try {
      return nodeBuiltin("node:module", "onnxruntime-web/webgpu").createRequire(import.meta.url)("onnxruntime-web/webgpu") as OrtModule;
    } catch (e) {
      return missingPeer("onnxruntime-web", "execution provider webgpu")(e);
    }
  }
  return (await import("onnxruntime-web/webgpu").catch(missingPeer("onnxruntime-web", "execution provider webgpu"))) as unknown as OrtModule;
}

/**
 * Runs ONNX models that hold com.ranksort nodes on onnxruntime-node or onnxruntime-web (CPU, WASM,
 * WebGPU, CUDA execution providers): "inline" runs the ops' function bodies in one session,
 * "kernels" splits the graph at our nodes and runs them in a kernel backend (CPU kernels by default).
 */
export class RankSortSession {
  private constructor(
    private readonly ort: OrtModule,
    private readonly ortOptions: object,
    private readonly steps: Step[],
    private readonly backend: KernelBackend | undefined,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  /** A session for a model given as a ModelProto, its bytes, or a file path (Node, Bun, Deno). */
  static async create(source: ModelProto | Uint8Array | string, options: RuntimeOptions = {}): Promise<RankSortSession> {
    // Model files are a Node-side thing: their reader (node:fs) loads only when a path is given.
    const model = typeof source === "string" ? (await import("../onnx/model_io.ts")).readModel(source) : source instanceof Uint8Array ? decodeModel(source) : source;
    const ep = options.executionProvider ?? "cpu";
    const mode = options.mode ?? "inline";
    if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1)) {
      throw new RuntimeError(`threads: expected a whole number ≥ 1, got ${options.threads}`);
    }
    if (options.optimization !== undefined && options.optimization !== "basic" && options.optimization !== "all") {
      throw new RuntimeError(`optimization: expected "basic" or "all", got ${JSON.stringify(options.optimization)}`);
    }
    // A kernel backend may need to set up the host before onnxruntime loads.
    const backend = mode === "kernels" ? await getKernelBackend(options.kernelBackend ?? "cpu") : undefined;
    await backend?.prepareHost?.();
    const { ort, options: loaded, gpuBuffers } = await loadOrt(ep, backend?.location === "gpu-buffer" && ep === "webgpu", options.threads, options.memoryPattern);
    const baseOptions = options.optimization === "basic" ? { ...loaded, graphOptimizationLevel: "basic" } : loaded;
    const ortOptions =
      gpuBuffers && options.deviceOutputs?.length && mode === "inline"
        ? { ...baseOptions, preferredOutputLocation: Object.fromEntries(options.deviceOutputs.map((n) => [n, "gpu-buffer"])) }
        : baseOptions;
    // onnxruntime-web's WebGPU build has no float64 kernels: it gets the float32 bodies, replacing
    // any float64 bodies the model carries.
    // (A model that already carries what it needs is used as it is: the session reads it when it
    // first runs, so the caller must not change it after this.)
    const [precision, replace] = ep === "webgpu" ? (["float32", true] as const) : (["float64", false] as const);
    const complete = lacksFunctionBodies(model, precision, replace) ? withFunctionBodies(model, precision, replace) : model;
    assertValidModel(complete);
    const graph = complete.graph!;
    const initializers = new Set(graph.initializer.map((t) => t.name));
    const inputNames = graph.input.map((v) => v.name).filter((n) => !initializers.has(n));
    const outputNames = graph.output.map((v) => v.name);
    if (mode === "inline") {
      const step: Step = { kind: "onnx", model: complete, inputs: inputNames, outputs: outputNames, shapeOutputs: [] };
      return new RankSortSession(ort, ortOptions, [step], undefined, inputNames, outputNames);
    }
    // A GPU kernel backend on the WebGPU EP takes stage outputs where they are: in GPU buffers.
    const steps = splitAtCustomNodes(complete);
    const session = new RankSortSession(ort, ortOptions, steps, backend, inputNames, outputNames);
    if (backend!.location === "gpu-buffer" && gpuBuffers) {
      // Tensors stay in GPU buffers between stages — except shape arithmetic, which the ops that
      // read it (Reshape, Expand, …) need on the host: uploading it only to read it back would stall
      // the GPU at every such op.
      for (const step of steps) {
        if (step.kind !== "onnx") continue;
        const host = new Set(step.shapeOutputs);
        session.stageOptions.set(step, { ...ortOptions, preferredOutputLocation: Object.fromEntries(step.outputs.map((o) => [o, host.has(o) ? "cpu" : "gpu-buffer"])) });
      }
    }
    return session;
  }

  private readonly sessions = new Map<Step, Promise<OrtInferenceSession>>();
  /** Per-stage session options (kernels mode with a GPU kernel backend); others use ortOptions. */
  private readonly stageOptions = new Map<Step, object>();

  /** One run of a model, its sessions released right after (probes, checks that a model still runs). */
  static async runOnce(source: ModelProto | Uint8Array | string, options: RuntimeOptions, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const session = await RankSortSession.create(source, options);
    try {
      return await session.run(feeds);
    } finally {
      await session.release();
    }
  }

  /** Stage sessions are created on first run, when the dtypes and ranks of their inputs are known. */
  private session(step: Step & { kind: "onnx" }, values: Map<string, OrtTensor>): Promise<OrtInferenceSession> {
    let s = this.sessions.get(step);
    if (!s) {
      // Inputs without a type get the dtype of their first value (on a copy; most models type them all).
      const model = step.model.graph!.input.every((v) => v.type) ? step.model : clone(ModelProtoSchema, step.model);
      for (const input of model.graph!.input) {
        if (input.type) continue;
        const v = values.get(input.name)!;
        input.type = create(TypeProtoSchema, {
          value: { case: "tensorType", value: create(TypeProto_TensorSchema, { elemType: DTYPE_CODE[v.type] }) },
        });
      }
      s = this.ort.InferenceSession.create(encodeModel(model), this.stageOptions.get(step) ?? this.ortOptions);
      this.sessions.set(step, s);
    }
    return s;
  }

  /**
   * Frees the onnxruntime sessions' memory (weights, arena) now. Their JS handles are small, so the
   * garbage collector feels no pressure to collect a session nobody runs any more: a ResNet-50
   * detector's evaluation session held ~0.3 GB until some later collection. Runs after this fail.
   */
  async release(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    this.released = true;
    await Promise.all(sessions.map(async (s) => (await s.catch(() => undefined))?.release()));
  }

  private released = false;

  /** Run and download every output to host memory. */
  async run(feeds: Record<string, HostTensor | OrtTensor>): Promise<Record<string, HostTensor>> {
    const out = await this.runTensors(feeds);
    const result: Record<string, HostTensor> = {};
    for (const [name, v] of Object.entries(out)) result[name] = await download(v);
    return result;
  }

  /** Run and return onnxruntime tensors where they are (device outputs stay on the device). */
  async runTensors(feeds: Record<string, HostTensor | OrtTensor>): Promise<Record<string, OrtTensor>> {
    if (this.released) throw new RuntimeError("this session was released");
    for (const name of this.inputNames) if (!(name in feeds)) throw new RuntimeError(`missing input "${name}" (inputs: ${this.inputNames.join(", ")})`);
    for (const name of Object.keys(feeds)) if (!this.inputNames.includes(name)) throw new RuntimeError(`unknown input "${name}" (inputs: ${this.inputNames.join(", ")})`);
    // Values between steps stay onnxruntime tensors, wherever they live.
    const asOrt = (v: HostTensor | OrtTensor) => (v instanceof this.ort.Tensor ? (v as OrtTensor) : toOrt(this.ort, v as HostTensor));
    const values = new Map<string, OrtTensor>(Object.entries(feeds).map(([k, v]) => [k, asOrt(v)]));
    for (const step of this.steps) {
      if (step.kind === "custom") {
        const outputs = await this.backend!.run(step.node, step.node.input.map((name) => values.get(name)!), this.ort);
        step.node.output.forEach((name, i) => name && values.set(name, outputs[i]!));
        continue;
      }
      const session = await this.session(step, values);
      const stageFeeds: Record<string, OrtTensor> = {};
      for (const name of step.inputs) stageFeeds[name] = values.get(name)!;
      const out = await session.run(stageFeeds);
      for (const [name, t] of Object.entries(out)) values.set(name, t);
    }
    await this.backend?.flush?.();
    const result: Record<string, OrtTensor> = {};
    for (const name of this.outputNames) {
      const v = values.get(name);
      if (!v) throw new RuntimeError(`output "${name}" was not computed`);
      result[name] = v;
    }
    // Intermediate GPU tensors are released now; outputs and the caller's feeds are the caller's.
    const keep = new Set<OrtTensor>([...Object.values(result), ...Object.values(feeds).filter((v): v is OrtTensor => v instanceof this.ort.Tensor)]);
    for (const v of values.values()) {
      if (v.location === "gpu-buffer" && !keep.has(v)) (v as { dispose?: () => void }).dispose?.();
    }
    return result;
  }
}

