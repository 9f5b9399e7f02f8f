// Reverse-mode construction of a gradient graph for an ONNX model: the forward graph, then — in
// reverse topological order — each node's rule turning output gradients into input gradients.
// Gradients of a value used several times are summed with a chain of Adds (no variadic Sum: the
// WebGPU EP runs Sum on the CPU). Integer and bool values never carry gradients.

import { staticShapes } from "./static_shape.ts";
import { NameAllocator, NodeEmitter, type DTypeName, dtypeName, tensorProto, type Value, valueInfo } from "../onnx/builder.ts";
import { clone, create, type ModelProto, ModelProtoSchema, NodeProtoSchema, type NodeProto, OperatorSetIdProtoSchema, type ValueInfoProto } from "../onnx/proto.ts";
import { TensorOps } from "../onnx/tensor_ops.ts";
import { addFunctionBodies } from "../ops/library.ts";
import { type GradContext, GradientError, type GradRule } from "./rule.ts";
import { gradRules } from "./rules/index.ts";

const FLOAT_TYPES = new Set<DTypeName>(["float32", "float64", "float16"]);

export interface GradientOptions {
  /** Values to differentiate with respect to (default: every float initializer and float graph input). */
  wrt?: readonly string[];
  /** Outputs whose cotangents seed the backward pass (default: every float graph output). */
  outputs?: readonly string[];
  /** Extend `source` itself instead of a copy (the caller gives it up; saves a clone of the graph). */
  inPlace?: boolean;
}

export interface GradientModel {
  /** Forward graph plus inputs `<output>__cotangent` and outputs `<value>__grad`. */
  model: ModelProto;
  /** cotangent input name per seeded output. */
  cotangents: Record<string, string>;
  /** gradient output name per differentiated value. */
  gradients: Record<string, string>;
}

function typeOf(v: ValueInfoProto): { dtype?: DTypeName; shape?: (number | string)[] } {
  const t = v.type?.value;
  if (t?.case !== "tensorType") return {};
  return {
    dtype: dtypeName(t.value.elemType),
    shape: t.value.shape?.dim.map((d) => (d.value.case === "dimValue" ? Number(d.value.value) : d.value.case === "dimParam" ? d.value.value : "?")),
  };
}

/** Known dtypes of every value: inputs, initializers, value_info, and simple propagation. */
function inferDtypes(model: ModelProto): Map<string, DTypeName> {
  const g = model.graph!;
  const dtypes = new Map<string, DTypeName>();
  for (const v of [...g.input, ...g.valueInfo, ...g.output]) {
    const d = typeOf(v).dtype;
    if (d) dtypes.set(v.name, d);
  }
  for (const t of g.initializer) {
    const d = dtypeName(t.dataType);
    if (d) dtypes.set(t.name, d);
  }
  const intOut = new Set(["Shape", "Size", "NonZero", "ArgMax", "ArgMin"]);
  const boolOut = new Set(["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Not", "Xor", "IsNaN", "IsInf"]);
  for (const n of g.node) {
    const out = n.output[0];
    if (!out || dtypes.has(out)) continue;
    let d: DTypeName | undefined;
    if (intOut.has(n.opType)) d = "int64";
    else if (boolOut.has(n.opType)) d = "bool";
    else if (n.opType === "Cast") d = dtypeName(Number(n.attribute.find((a) => a.name === "to")?.i ?? 0));
    else if (n.opType === "Constant") {
      const t = n.attribute.find((a) => a.name === "value")?.t;
      d = t ? dtypeName(t.dataType) : n.attribute.some((a) => a.name.startsWith("value_int")) ? "int64" : "float32";
    } else if (n.opType === "ConstantOfShape") {
      const t = n.attribute.find((a) => a.name === "value")?.t;
      d = t ? dtypeName(t.dataType) : "float32";
    } else if (n.opType === "Where") d = dtypes.get(n.input[1]!);
    else if (n.opType === "Range") d = dtypes.get(n.input[0]!);
    else if (n.domain === "com.ranksort") d = "float32";
    else d = dtypes.get(n.input[0] ?? "");
    if (d) dtypes.set(out, d);
    if (n.opType === "TopK" && n.output[1]) dtypes.set(n.output[1], "int64");
    if ((n.opType === "MaxPool") && n.output[1]) dtypes.set(n.output[1], "int64");
    if (n.domain === "com.ranksort" && n.opType === "ALRPLoss" && n.output[3]) dtypes.set(n.output[3], "int64");
    for (const o of n.output.slice(1)) if (o && !dtypes.has(o) && d) dtypes.set(o, d);
  }
  return dtypes;
}

/** Build the gradient model; throws a GradientError naming the op, node and path when a rule is missing. */
export function buildGradientModel(source: ModelProto, opts: GradientOptions = {}): GradientModel {
  const model = opts.inPlace ? source : clone(ModelProtoSchema, source);
  const g = model.graph!;
  const dtypes = inferDtypes(model);
  const isFloat = (name: string) => FLOAT_TYPES.has(dtypes.get(name)!);
  const initializerNames = new Set(g.initializer.map((t) => t.name));
  const graphInputs = g.input.filter((v) => !initializerNames.has(v.name));
  const wrt = opts.wrt ?? [...g.initializer.map((t) => t.name).filter(isFloat), ...graphInputs.map((v) => v.name).filter(isFloat)];
  const seeds = opts.outputs ?? g.output.map((o) => o.name).filter(isFloat);
  for (const w of wrt) if (!initializerNames.has(w) && !graphInputs.some((v) => v.name === w)) throw new GradientError(`"${w}" is neither an initializer nor a graph input`);
  for (const s of seeds) if (!g.output.some((o) => o.name === s)) throw new GradientError(`"${s}" is not a graph output`);

  // Values reachable forward from wrt, and backward from the seeds: gradients flow on both.
  const producer = new Map<string, NodeProto>();
  for (const n of g.node) for (const o of n.output) if (o) producer.set(o, n);
  const fromParams = new Set<string>(wrt);
  const parentOf = new Map<string, string>(); // for error paths: value → an input it came from
  for (const n of g.node) {
    const src = n.input.find((i) => fromParams.has(i) && isFloat(i));
    if (src === undefined) continue;
    for (const o of n.output) {
      if (o && isFloat(o)) {
        fromParams.add(o);
        parentOf.set(o, src);
      }
    }
  }
  const toSeeds = new Set<string>(seeds);
  for (let i = g.node.length - 1; i >= 0; i--) {
    const n = g.node[i]!;
    if (n.output.some((o) => toSeeds.has(o))) for (const x of n.input) if (x) toSeeds.add(x);
  }
  const onPath = (name: string) => fromParams.has(name) && toSeeds.has(name) && isFloat(name);

  const names = new NameAllocator();
  for (const v of [...g.input, ...g.output, ...g.valueInfo]) names.reserve(v.name);
  for (const t of g.initializer) if (!g.input.some((v) => v.name === t.name)) names.reserve(t.name);
  for (const n of g.node) {
    for (const o of n.output) if (o && !g.output.some((v) => v.name === o)) names.reserve(o);
    names.freshNode(n.name || n.opType);
  }
  const opsets = Object.fromEntries(model.opsetImport.map((o) => [o.domain, Number(o.version)]));
  const e = new NodeEmitter(opsets, names);
  const t = new TensorOps(e);

  // Seeds: a cotangent input per seeded output.
  const grads = new Map<string, Value[]>();
  const cotangents: Record<string, string> = {};
  for (const s of seeds) {
    const name = names.fresh(`${s}__cotangent`);
    cotangents[s] = name;
    const info = g.output.find((o) => o.name === s)!;
    const { dtype, shape } = typeOf(info);
    g.input.push(valueInfo(name, dtype ?? dtypes.get(s), shape));
    grads.set(s, [{ name, dtype: dtype ?? dtypes.get(s) }]);
  }

  const total = (name: string): Value | undefined => {
    const parts = grads.get(name);
    if (!parts?.length) return undefined;
    let acc = parts[0]!;
    for (const p of parts.slice(1)) acc = t.add(acc, p);
    grads.set(name, [acc]);
    return acc;
  };

  // Shapes known before running (initializers, fixed input dims, and what follows from them).
  const shapes = staticShapes(g);
  const rules = gradRules();
  for (let i = g.node.length - 1; i >= 0; i--) {
    const node = g.node[i]!;
    if (!node.input.some(onPath)) continue;
    const outGrads = node.output.map((o) => (o ? total(o) : undefined));
    if (outGrads.every((x) => x === undefined)) continue;
    const key = node.domain && node.domain !== "ai.onnx" ? `${node.domain}::${node.opType}` : node.opType;
    const rule: GradRule | undefined = rules.get(key);
    if (!rule) {
      const start = node.input.find(onPath)!;
      const path: string[] = [start];
      for (let v = start; parentOf.has(v); v = parentOf.get(v)!) path.push(parentOf.get(v)!);
      throw new GradientError(
        `no gradient rule for op ${key} (node "${node.name}"); it lies on the path ${path.reverse().join(" → ")} → ${node.name} → … → ${seeds.join(", ")}`,
      );
    }
    const ctx: GradContext = {
      node,
      e,
      t,
      input: (k) => ({ name: node.input[k]!, dtype: dtypes.get(node.input[k]!) }),
      output: (k) => ({ name: node.output[k]!, dtype: dtypes.get(node.output[k]!) }),
      needs: (k) => !!node.input[k] && onPath(node.input[k]!),
      staticDims: (k) => shapes.fullDims(node.input[k] ?? ""),
      inputDims: (k) => shapes.dims(node.input[k] ?? ""),
      outputDims: (k) => shapes.dims(node.output[k] ?? ""),
      rank: (k) => shapes.dims(node.input[k] ?? "")?.length,
      attr: (n) => node.attribute.find((a) => a.name === n),
      int: (n, f) => {
        const a = node.attribute.find((x) => x.name === n);
        return a ? Number(a.i) : f;
      },
      ints: (n, f) => {
        const a = node.attribute.find((x) => x.name === n);
        return a ? a.ints.map(Number) : f;
      },
      float: (n, f) => node.attribute.find((x) => x.name === n)?.f ?? f,
      string: (n, f) => {
        const a = node.attribute.find((x) => x.name === n);
        return a ? new TextDecoder().decode(a.s) : f;
      },
    };
    const inGrads = rule(ctx, outGrads);
    inGrads.forEach((gv, k) => {
      const name = node.input[k];
      if (!gv || !name || !onPath(name)) return;
      grads.set(name, [...(grads.get(name) ?? []), gv]);
    });
  }

  const gradients: Record<string, string> = {};
  for (const w of wrt) {
    const gv = total(w);
    const name = names.fresh(`${w}__grad`);
    const dtype = dtypes.get(w);
    // A parameter no seeded output depends on has a zero gradient.
    const value = gv ?? t.e.op1("ConstantOfShape", [t.shape({ name: w })], { value: { kind: "tensor", value: zeroOf(dtype ?? "float32") } }, { dtype });
    e.nodes.push(identity(e, value.name, name));
    g.output.push(valueInfo(name, dtype));
    gradients[w] = name;
  }
  g.node.push(...e.nodes);
  for (const [domain, version] of e.opsets) {
    if (!model.opsetImport.some((o) => o.domain === domain)) model.opsetImport.push(create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) }));
  }
  // Rules may emit our ops (the loss ops' Grad ops): carry their function bodies.
  return { model: addFunctionBodies(model, bodyPrecisionOf(model)), cotangents, gradients };
}

/** Keep the precision of the bodies the model already carries (float32 bodies cast nothing to double). */
function bodyPrecisionOf(model: ModelProto): "float64" | "float32" {
  const body = model.functions.find((f) => f.domain === "com.ranksort" && f.name !== "StopGradient");
  if (!body) return "float64";
  const castsToDouble = (nodes: readonly NodeProto[]): boolean =>
    nodes.some((n) => (n.opType === "Cast" && n.attribute.some((a) => a.name === "to" && a.i === 11n)) || n.attribute.some((a) => a.g && castsToDouble(a.g.node)));
  return castsToDouble(body.node) ? "float64" : "float32";
}

function zeroOf(dtype: DTypeName) {
  return tensorProto("zero", dtype, [0], [1]);
}

function identity(e: NodeEmitter, from: string, to: string): NodeProto {
  return create(NodeProtoSchema, { opType: "Identity", name: e.names.freshNode(`${to}_identity`), input: [from], output: [to] });
}
