// A train-step graph from a model and a loss: forward, loss, backward, gradient clipping and the
// optimizer update, as one ONNX graph. Trainable parameters and optimizer state become graph inputs
// and their updated values graph outputs, so a session keeps them between steps (as GPU buffers on
// WebGPU) and nothing is rebuilt per step. The learning rate and the step count are inputs too.

import { buildGradientModel } from "../autodiff/gradient_graph.ts";
import { untieExportTies } from "../autodiff/untie.ts";
import { GradientError } from "../autodiff/rule.ts";
import { type DTypeName, dtypeName, NameAllocator, NodeEmitter, type Value, valueInfo } from "../onnx/builder.ts";
import { clone, create, type ModelProto, ModelProtoSchema, type NodeProto, NodeProtoSchema, OperatorSetIdProtoSchema, type TensorProto } from "../onnx/proto.ts";
import { TensorOps } from "../onnx/tensor_ops.ts";
import { eliminateCommonSubexpressions } from "../onnx/common_subexpressions.ts";
import { addFunctionBodies } from "../ops/library.ts";
import { DOMAIN, DOMAIN_VERSION } from "../ops/domain.ts";

export type OptimizerSpec =
  | { kind: "sgd"; momentum?: number; nesterov?: boolean; weightDecay?: number }
  | { kind: "adamw"; beta1?: number; beta2?: number; eps?: number; weightDecay?: number };

export interface TrainStepSpec {
  model: ModelProto;
  /**
   * Build the scalar loss from the model's outputs (by name) and extra graph inputs the loss needs
   * (declare them with `input`). Runs on a builder that already holds the forward graph.
   */
  loss: (
    t: TensorOps,
    outputs: Record<string, Value>,
    input: (name: string, dtype: DTypeName, shape: (number | string)[]) => Value,
  ) => Value | { loss: Value; report: Record<string, Value> };
  optimizer: OptimizerSpec;
  /** Clip gradients to this global L2 norm before the update. */
  clipGradNorm?: number;
  /** Initializers that stay fixed (e.g. a backbone); by default every float initializer trains. */
  frozen?: (name: string) => boolean;
  /**
   * Untie initializers that the exporter merged through Identity chains because their values were
   * equal (see untie.ts). Default true: they are distinct parameters of the original model; real
   * sharing (one initializer consumed by several nodes) is always kept.
   */
  untieExportTies?: boolean;
  /**
   * The model the trained weights go back into on export (default: `model`). A train step cut from a
   * larger graph (head tensors inside a model with post-processing) exports into the whole model.
   */
  inferenceModel?: ModelProto;
}

export interface TrainStepGraph {
  model: ModelProto;
  parameters: string[];
  /** BatchNorm running statistics (training mode): buffer inputs updated each step, not trained. */
  buffers: string[];
  /** Optimizer state per parameter: names of the state inputs; the updated values are `<name>__next`. */
  state: Record<string, string[]>;
  /** Inputs the caller feeds each step besides parameters and state. */
  dataInputs: string[];
  /** Output names: updated parameter/state values by input name, and the loss. */
  next: Record<string, string>;
  loss: string;
  /** Output name of each reported scalar. */
  report: Record<string, string>;
  /**
   * Output name of a scalar that is 0 when every updated parameter, optimizer state and buffer is
   * finite, and NaN otherwise ((Σ ReduceSum(x))·0; the sums overflow only for values averaging
   * ≥ 1e31, which counts as diverged). Read with the loss, it tells whether the step may be kept.
   */
  nonFinite: string;
  initial: Record<string, TensorProto>;
  /** The inference model the parameters belong to (ties untied when asked). */
  inferenceModel: ModelProto;
}

export const LEARNING_RATE = "learning_rate";
export const STEP = "step";

/**
 * One ONNX graph that computes a model's loss, its gradients (autodiff over the graph) and the
 * optimizer update, with parameters and optimizer state as inputs and their next values as outputs.
 */
export function buildTrainStep(spec: TrainStepSpec): TrainStepGraph {
  // 1. The forward model with the loss appended, parameters lifted to graph inputs.
  const base = spec.untieExportTies === false ? spec.model : untieExportTies(spec.model).model;
  const model = clone(ModelProtoSchema, base);
  const g = model.graph!;
  const isFloat = (t: TensorProto) => ["float32", "float64", "float16"].includes(dtypeName(t.dataType) ?? "");
  // BatchNormalization in training mode: its running mean/var initializers are buffers, fed in and
  // replaced each step by the node's running_mean/running_var outputs (never trained).
  const buffers: Record<string, string> = {}; // buffer initializer → output that updates it
  for (const n of g.node) {
    if (n.opType !== "BatchNormalization" || !n.attribute.some((a) => a.name === "training_mode" && a.i === 1n)) continue;
    for (const k of [3, 4]) {
      const name = n.input[k];
      if (!name || !g.initializer.some((t) => t.name === name)) continue;
      while (n.output.length <= k - 2) n.output.push("");
      if (!n.output[k - 2]) n.output[k - 2] = `${name}__running`;
      buffers[name] = n.output[k - 2]!;
    }
  }
  const trainable = g.initializer.filter((t) => isFloat(t) && !spec.frozen?.(t.name) && !(t.name in buffers));
  if (!trainable.length) throw new GradientError("nothing to train: no float initializer is left unfrozen");
  const initial: Record<string, TensorProto> = Object.fromEntries(trainable.map((t) => [t.name, t]));
  g.initializer = g.initializer.filter((t) => !initial[t.name]);
  g.input = g.input.filter((v) => !initial[v.name]);
  for (const p of trainable) g.input.push(valueInfo(p.name, dtypeName(p.dataType), p.dims.map(Number)));

  const names = new NameAllocator();
  const reserveAll = () => {
    for (const v of [...g.input, ...g.output, ...g.valueInfo]) tryReserve(names, v.name);
    for (const t of g.initializer) tryReserve(names, t.name);
    for (const n of g.node) {
      for (const o of n.output) if (o) tryReserve(names, o);
      if (n.name) names.freshNode(n.name);
    }
  };
  reserveAll();
  const opsets = Object.fromEntries(model.opsetImport.map((o) => [o.domain, Number(o.version)]));
  // Losses may use our ops; an unused import is harmless.
  const lossEmitter = new NodeEmitter({ ...opsets, [DOMAIN]: DOMAIN_VERSION }, names);
  const lt = new TensorOps(lossEmitter);
  const bufferInitial: Record<string, TensorProto> = {};
  for (const name of Object.keys(buffers)) {
    const t = g.initializer.find((x) => x.name === name)!;
    bufferInitial[name] = t;
    g.initializer = g.initializer.filter((x) => x.name !== name);
    g.input.push(valueInfo(name, dtypeName(t.dataType), t.dims.map(Number)));
  }
  const dataInputs = g.input.filter((v) => !initial[v.name] && !bufferInitial[v.name]).map((v) => v.name);
  const outputs = Object.fromEntries(g.output.map((o) => [o.name, { name: o.name } as Value]));
  const built = spec.loss(lt, outputs, (name, dtype, shape) => {
    names.reserve(name);
    g.input.push(valueInfo(name, dtype, shape));
    dataInputs.push(name);
    return { name, dtype, shape };
  });
  const lossValue = "loss" in built ? built.loss : built;
  // Scalars reported each step besides the loss (e.g. its components), as extra outputs.
  const report: Record<string, string> = {};
  for (const [key, v] of Object.entries("report" in built ? built.report : {})) {
    report[key] = names.fresh(`report_${key}`);
    lossEmitter.nodes.push(identityNode(lossEmitter, v.name, report[key]!));
  }
  const lossName = names.fresh("loss");
  lossEmitter.nodes.push(identityNode(lossEmitter, lossValue.name, lossName));
  g.node.push(...lossEmitter.nodes);
  importOpsets(model, lossEmitter);
  g.output = [valueInfo(lossName, "float32", []), ...Object.values(buffers).map((o) => valueInfo(o, "float32")), ...Object.values(report).map((o) => valueInfo(o, "float32", []))];
  // The model and its loss may use our ops: attach their function bodies.
  addFunctionBodies(model);

  // 2. Backward for the loss, seeded with 1 (the gradient graph extends this model: no copy).
  const grad = buildGradientModel(model, { wrt: trainable.map((t) => t.name), outputs: [lossName], inPlace: true });
  for (const t of Object.values(bufferInitial)) initial[t.name] = t;
  const m = grad.model;
  const mg = m.graph!;
  const seed = grad.cotangents[lossName]!;
  mg.input = mg.input.filter((v) => v.name !== seed);
  const names2 = new NameAllocator();
  for (const v of [...mg.input, ...mg.output]) tryReserve(names2, v.name);
  for (const n of mg.node) {
    for (const o of n.output) if (o) tryReserve(names2, o);
    if (n.name) names2.freshNode(n.name);
  }
  const e = new NodeEmitter(Object.fromEntries(m.opsetImport.map((o) => [o.domain, Number(o.version)])), names2);
  const t = new TensorOps(e);
  // The seed dL/dL = 1 must exist before the gradient nodes that read it.
  const seedNodes = new NodeEmitter({ "": 17 }, names2);
  const one = seedNodes.scalar("float32", 1, "one");
  mg.node.unshift(...seedNodes.nodes, identityNode(e, one.name, seed));

  // 3. Clipping and the optimizer update.
  const lr: Value = { name: LEARNING_RATE, dtype: "float32" };
  const step: Value = { name: STEP, dtype: "float32" };
  mg.input.push(valueInfo(LEARNING_RATE, "float32", []), valueInfo(STEP, "float32", []));
  // A parameter whose last dim is 1 (a 1×1 convolution's [O, C, 1, 1] weight) is updated through a
  // flat view: onnxruntime's CPU elementwise ops broadcast a scalar over such a shape element by
  // element, ~40× slower than over the same values flat (measured: [546, 672, 1, 1] × lr 2.3 ms,
  // [546, 672] 0.06 ms) — 41 ms of SSDlite's step went to its optimizer's scalar products.
  const flat = (dims: readonly number[]) => dims.length >= 2 && dims[dims.length - 1] === 1;
  const numel = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
  const viewOf = (v: Value, dims: number[]) => (flat(dims) ? t.reshape(v, [numel(dims)]) : v);
  let grads: Record<string, Value> = Object.fromEntries(
    trainable.map((p) => [p.name, viewOf({ name: grad.gradients[p.name]!, dtype: "float32" as const }, p.dims.map(Number))]),
  );
  if (spec.clipGradNorm !== undefined) {
    let sq: Value | undefined;
    for (const gv of Object.values(grads)) {
      const s = t.reduceSum(t.mul(gv, gv));
      sq = sq ? t.add(sq, s) : s;
    }
    const norm = t.e.op1("Sqrt", [sq!], {}, { dtype: "float32" });
    const scale = t.min(t.scalar("float32", 1), t.div(t.scalar("float32", spec.clipGradNorm), t.add(norm, t.scalar("float32", 1e-6))));
    grads = Object.fromEntries(Object.entries(grads).map(([k, gv]) => [k, t.mul(gv, scale)]));
  }
  const state: Record<string, string[]> = {};
  const next: Record<string, string> = {};
  // The node that computes an updated value writes the graph output itself: an Identity in front
  // of a graph output is a full copy per step in onnxruntime (7 ms of R18-FPN FCOS's step).
  const newOutput = (of: string, v: Value): Value => {
    const name = names2.fresh(`${of}__next`);
    const producer = e.nodes.findLast((n) => n.output.includes(v.name));
    if (producer) {
      producer.output = producer.output.map((o) => (o === v.name ? name : o));
      for (const n of e.nodes) n.input = n.input.map((i) => (i === v.name ? name : i));
    } else e.nodes.push(identityNode(e, v.name, name));
    mg.output.push(valueInfo(name, "float32"));
    next[of] = name;
    return { name, dtype: "float32" };
  };
  const stateInput = (p: string, suffix: string, dims: number[]) => {
    const name = names2.fresh(`${p}__${suffix}`);
    mg.input.push(valueInfo(name, "float32", dims));
    (state[p] ??= []).push(name);
    return { name, dtype: "float32" as const };
  };
  const c = (v: number) => t.scalar("float32", v);
  for (const pt of trainable) {
    const dims = pt.dims.map(Number);
    const p = viewOf({ name: pt.name, dtype: "float32" }, dims);
    // An updated value becomes a graph output in the parameter's own shape; later ops read the
    // value as computed (the flat view, or the output itself when no view was taken).
    const keep = (of: string, v: Value): Value => {
      const out = newOutput(of, flat(dims) ? t.reshape(v, dims) : v);
      return flat(dims) ? v : out;
    };
    let gv = grads[pt.name]!;
    const o = spec.optimizer;
    if (o.kind === "sgd") {
      if (o.weightDecay) gv = t.add(gv, t.mul(p, c(o.weightDecay)));
      let direction = gv;
      if (o.momentum) {
        const bufIn = stateInput(pt.name, "momentum", dims);
        const newBuf = keep(bufIn.name, t.add(t.mul(viewOf(bufIn, dims), c(o.momentum)), gv));
        direction = o.nesterov ? t.add(gv, t.mul(newBuf, c(o.momentum))) : newBuf;
      }
      keep(pt.name, t.sub(p, t.mul(direction, lr)));
    } else {
      const b1 = o.beta1 ?? 0.9;
      const b2 = o.beta2 ?? 0.999;
      const decayed = o.weightDecay ? t.sub(p, t.mul(t.mul(p, lr), c(o.weightDecay))) : p;
      const m1 = stateInput(pt.name, "adam_m", dims);
      const v1 = stateInput(pt.name, "adam_v", dims);
      const nm = keep(m1.name, t.add(t.mul(viewOf(m1, dims), c(b1)), t.mul(gv, c(1 - b1))));
      const nv = keep(v1.name, t.add(t.mul(viewOf(v1, dims), c(b2)), t.mul(t.mul(gv, gv), c(1 - b2))));
      const pow = (b: number) => t.e.op1("Pow", [c(b), step], {}, { dtype: "float32" });
      const mHat = t.div(nm, t.sub(c(1), pow(b1)));
      const vHat = t.div(nv, t.sub(c(1), pow(b2)));
      const update = t.div(mHat, t.add(t.e.op1("Sqrt", [vHat], {}, { dtype: "float32" }), c(o.eps ?? 1e-8)));
      keep(pt.name, t.sub(decayed, t.mul(update, lr)));
    }
  }
  // Gradient outputs are not needed by the caller: keep the loss and the updated values.
  for (const [buffer, output] of Object.entries(buffers)) next[buffer] = output;
  // The divergence guard: one read of everything the step would keep, summed per tensor, the sums
  // times 0 (NaN as soon as any value is ±∞ or NaN). Multiplying every value by 0 before summing
  // would also rule out a finite sum overflowing, at two more passes over all parameters — and such
  // a sum needs parameters averaging ≥ 1e31 over any real model: diverged in any practical sense.
  let nonFiniteSum: Value | undefined;
  for (const v of Object.values(next)) {
    const s = t.reduceSum({ name: v, dtype: "float32" });
    nonFiniteSum = nonFiniteSum ? t.add(nonFiniteSum, s) : s;
  }
  nonFiniteSum = t.mul(nonFiniteSum!, c(0));
  const nonFinite = names2.fresh("non_finite");
  e.nodes.push(identityNode(e, nonFiniteSum!.name, nonFinite));
  mg.output.push(valueInfo(nonFinite, "float32", []));
  mg.output = mg.output.filter((v) => v.name === lossName || v.name === nonFinite || Object.values(next).includes(v.name) || Object.values(report).includes(v.name));
  mg.node.push(...e.nodes);
  importOpsets(m, e);
  // Rules and graph copies repeat weight- and shape-only computations; merged here in one pass.
  eliminateCommonSubexpressions(mg);
  return { model: m, parameters: trainable.map((p) => p.name), buffers: Object.keys(buffers), state, dataInputs, next, loss: lossName, report, nonFinite, initial, inferenceModel: spec.inferenceModel ?? base };
}

function tryReserve(names: NameAllocator, name: string): void {
  try {
    names.reserve(name);
  } catch {
    // already reserved (a name listed twice, e.g. as input and value_info)
  }
}

function importOpsets(model: ModelProto, e: NodeEmitter): void {
  for (const [domain, version] of e.opsets) {
    if (!model.opsetImport.some((o) => o.domain === domain)) model.opsetImport.push(create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) }));
  }
}

function identityNode(e: NodeEmitter, from: string, to: string): NodeProto {
  return create(NodeProtoSchema, { opType: "Identity", name: e.names.freshNode(`${to}_identity`), input: [from], output: [to] });
}
