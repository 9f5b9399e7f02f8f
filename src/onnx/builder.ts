// A small typed builder for ONNX graphs and functions: values with dtype and shape, ops by name with
// typed attributes, initializers from typed arrays, opset imports collected as ops are used, and
// unique names.

import {
  AttributeType,
  AttributeProtoSchema,
  create,
  DataType,
  FunctionProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type FunctionProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "./proto.ts";

export type DTypeName = "float32" | "float64" | "float16" | "int64" | "int32" | "int8" | "uint8" | "bool";

export const DTYPE_CODE: Record<DTypeName, number> = {
  float32: DataType.FLOAT,
  float64: DataType.DOUBLE,
  float16: DataType.FLOAT16,
  int64: DataType.INT64,
  int32: DataType.INT32,
  int8: DataType.INT8,
  uint8: DataType.UINT8,
  bool: DataType.BOOL,
};

export function dtypeName(code: number): DTypeName | undefined {
  return (Object.keys(DTYPE_CODE) as DTypeName[]).find((k) => DTYPE_CODE[k] === code);
}

/** A named tensor in a graph or function, with what is known of its type. */
export interface Value {
  readonly name: string;
  readonly dtype?: DTypeName;
  readonly shape?: readonly (number | string)[];
}

/** Attribute values: plain numbers are INT when integral, else FLOAT; `float()` forces FLOAT. */
export type AttrValue =
  | number
  | string
  | bigint
  | readonly number[]
  | readonly string[]
  | { kind: "float"; value: number }
  | { kind: "floats"; value: readonly number[] }
  | { kind: "ref"; name: string; type: "float" | "int" | "string" | "floats" | "ints" }
  | { kind: "tensor"; value: TensorProto }
  | { kind: "graph"; value: GraphProto };

export const float = (value: number): AttrValue => ({ kind: "float", value });
export const floats = (value: readonly number[]): AttrValue => ({ kind: "floats", value });
/** Inside a function body: take the value of the function's attribute `name`. */
export const ref = (name: string, type: "float" | "int" | "string" | "floats" | "ints" = "float"): AttrValue => ({ kind: "ref", name, type });
export const tensorAttr = (value: TensorProto): AttrValue => ({ kind: "tensor", value });
export const graphAttr = (value: GraphProto): AttrValue => ({ kind: "graph", value });

const REF_TYPE = { float: AttributeType.FLOAT, int: AttributeType.INT, string: AttributeType.STRING, floats: AttributeType.FLOATS, ints: AttributeType.INTS };

export function attribute(name: string, v: AttrValue): AttributeProto {
  const a = create(AttributeProtoSchema, { name });
  if (typeof v === "number") {
    if (Number.isInteger(v)) Object.assign(a, { type: AttributeType.INT, i: BigInt(v) });
    else Object.assign(a, { type: AttributeType.FLOAT, f: v });
  } else if (typeof v === "bigint") Object.assign(a, { type: AttributeType.INT, i: v });
  else if (typeof v === "string") Object.assign(a, { type: AttributeType.STRING, s: new TextEncoder().encode(v) });
  else if (Array.isArray(v)) {
    if (v.every((x) => typeof x === "number")) Object.assign(a, { type: AttributeType.INTS, ints: (v as number[]).map((x) => BigInt(x)) });
    else Object.assign(a, { type: AttributeType.STRINGS, strings: (v as string[]).map((x) => new TextEncoder().encode(x)) });
  } else {
    const t = v as Exclude<AttrValue, number | string | bigint | readonly number[] | readonly string[]>;
    switch (t.kind) {
      case "float":
        Object.assign(a, { type: AttributeType.FLOAT, f: t.value });
        break;
      case "floats":
        Object.assign(a, { type: AttributeType.FLOATS, floats: [...t.value] });
        break;
      case "ref":
        Object.assign(a, { type: REF_TYPE[t.type], refAttrName: t.name });
        break;
      case "tensor":
        Object.assign(a, { type: AttributeType.TENSOR, t: t.value });
        break;
      case "graph":
        Object.assign(a, { type: AttributeType.GRAPH, g: t.value });
        break;
    }
  }
  return a;
}

type TypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

/** A TensorProto holding `data` as raw little-endian bytes. */
export function tensorProto(name: string, dtype: DTypeName, data: TypedArray | readonly number[], dims: readonly number[]): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  let array: TypedArray;
  if (Array.isArray(data)) {
    const values = data as number[];
    array =
      dtype === "float32" ? Float32Array.from(values)
      : dtype === "float64" ? Float64Array.from(values)
      : dtype === "int64" ? BigInt64Array.from(values, (x) => BigInt(x))
      : dtype === "int32" ? Int32Array.from(values)
      : dtype === "int8" ? Int8Array.from(values)
      : Uint8Array.from(values);
  } else array = data as TypedArray;
  if (array.length !== count) throw new RangeError(`tensor "${name}": ${array.length} values for dims [${dims.join(", ")}] (${count} expected)`);
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength).slice();
  return create(TensorProtoSchema, { name, dataType: DTYPE_CODE[dtype], dims: dims.map((d) => BigInt(d)), rawData: bytes });
}

/** A tensor's name, dims and type without its data: a placeholder for weights held elsewhere. */
export function tensorShell(t: TensorProto): TensorProto {
  return create(TensorProtoSchema, { name: t.name, dims: t.dims, dataType: t.dataType });
}

export function valueInfo(name: string, dtype?: DTypeName, shape?: readonly (number | string)[]): ValueInfoProto {
  const v = create(ValueInfoProtoSchema, { name });
  if (dtype) {
    const tensorType = create(TypeProto_TensorSchema, { elemType: DTYPE_CODE[dtype] });
    if (shape) {
      tensorType.shape = create(TensorShapeProtoSchema, {
        dim: shape.map((d) =>
          create(TensorShapeProto_DimensionSchema, { value: typeof d === "number" ? { case: "dimValue", value: BigInt(d) } : { case: "dimParam", value: d } }),
        ),
      });
    }
    v.type = create(TypeProtoSchema, { value: { case: "tensorType", value: tensorType } });
  }
  return v;
}

export interface OpOptions {
  domain?: string;
  /** Number of outputs (default 1), or their names. An empty name skips an optional output. */
  outputs?: number | readonly string[];
  /** Node name (default: generated). */
  name?: string;
  /** dtype of the outputs, when the caller knows it (used by the validator's type checks). */
  dtype?: DTypeName;
}

/**
 * Unique names for one graph and all its subgraphs (ONNX forbids shadowing outer-scope names).
 * Values and nodes are separate namespaces, as in ONNX.
 */
export class NameAllocator {
  private readonly used = new Set<string>();
  private readonly nodes = new Set<string>();
  private counter = 0;

  /** A fresh value name based on `hint`, never returned before. */
  fresh(hint: string): string {
    return this.take(this.used, hint);
  }

  /** A fresh node name based on `hint`. */
  freshNode(hint: string): string {
    return this.take(this.nodes, hint);
  }

  private take(set: Set<string>, hint: string): string {
    let name = hint;
    while (set.has(name)) name = `${hint}_${++this.counter}`;
    set.add(name);
    return name;
  }

  reserve(name: string): void {
    if (this.used.has(name)) throw new Error(`name "${name}" is already used in this graph`);
    this.used.add(name);
  }
}

/** Node emission shared by graphs, subgraphs and function bodies. */
export class NodeEmitter {
  readonly nodes: NodeProto[] = [];
  /** Opset version per domain ("" is the default ONNX domain). */
  readonly opsets = new Map<string, number>();

  constructor(
    opsets: Record<string, number> = { "": 17 },
    readonly names: NameAllocator = new NameAllocator(),
  ) {
    for (const [d, v] of Object.entries(opsets)) this.opsets.set(d, v);
  }

  fresh(hint: string): string {
    return this.names.fresh(hint);
  }

  protected reserve(name: string): void {
    this.names.reserve(name);
  }

  /** A builder for a subgraph (If/Loop body) that sees this scope's values and shares its names. */
  subgraph(name: string): GraphBuilder {
    return new GraphBuilder(name, Object.fromEntries(this.opsets), this.names);
  }

  /** Emit one node; returns its outputs. */
  op(opType: string, inputs: readonly (Value | string | undefined)[], attrs: Record<string, AttrValue> = {}, opts: OpOptions = {}): Value[] {
    const domain = opts.domain ?? "";
    if (!this.opsets.has(domain)) throw new Error(`op ${opType}: domain "${domain}" has no opset import in this builder`);
    const outputNames =
      typeof opts.outputs === "object" ? opts.outputs.map((n) => (n === "" ? "" : this.fresh(n)))
      : Array.from({ length: opts.outputs ?? 1 }, (_, i) => this.fresh(`${opType.toLowerCase()}${i ? `_${i}` : ""}`));
    const node = create(NodeProtoSchema, {
      opType,
      domain,
      name: this.names.freshNode(opts.name ?? `${opType}_node`),
      input: inputs.map((v) => (v === undefined ? "" : typeof v === "string" ? v : v.name)),
      output: outputNames,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    this.nodes.push(node);
    return outputNames.map((name) => ({ name, dtype: opts.dtype }));
  }

  /** Emit a single-output node and return that output. */
  op1(opType: string, inputs: readonly (Value | string | undefined)[], attrs: Record<string, AttrValue> = {}, opts: OpOptions = {}): Value {
    return this.op(opType, inputs, attrs, opts)[0]!;
  }

  /** Small constants already emitted, by dtype, dims and values: each is emitted once per emitter. */
  private readonly smallConstants = new Map<string, Value>();

  /**
   * A constant tensor as a Constant node (works in graphs and function bodies alike). Small ones
   * (≤ 16 values: axes, shapes, scalars) are emitted once and shared — gradient rules ask for the
   * same few thousands of times, and every node costs onnxruntime's optimiser time.
   */
  constant(dtype: DTypeName, data: TypedArray | readonly number[], dims: readonly number[] = [], hint = "const"): Value {
    const small = data.length <= 16 && dims.length <= 1;
    const key = small ? `${dtype}|${dims.join(",")}|${Array.from(data as ArrayLike<number | bigint>, (v) => (Object.is(v, -0) ? "-0" : String(v))).join(",")}` : "";
    const known = small ? this.smallConstants.get(key) : undefined;
    if (known) return known;
    const value = this.emitConstant(dtype, data, dims, hint);
    if (small) this.smallConstants.set(key, value);
    return value;
  }

  private emitConstant(dtype: DTypeName, data: TypedArray | readonly number[], dims: readonly number[], hint: string): Value {
    const name = this.fresh(hint);
    this.nodes.push(
      create(NodeProtoSchema, { opType: "Constant", name: this.names.freshNode(`${hint}_node`), output: [name], attribute: [attribute("value", tensorAttr(tensorProto(name, dtype, data, dims)))] }),
    );
    return { name, dtype, shape: dims };
  }

  /** A scalar constant. */
  scalar(dtype: DTypeName, value: number, hint = "c"): Value {
    return this.constant(dtype, [value], [], hint);
  }

  /** A 1-D int64 constant (axes, shapes, indices). */
  ints(values: readonly number[], hint = "ints"): Value {
    return this.constant("int64", values, [values.length], hint);
  }

  protected opsetImports() {
    return [...this.opsets].map(([domain, version]) => create(OperatorSetIdProtoSchema, { domain, version: BigInt(version) }));
  }
}

/** Builds a GraphProto (and a ModelProto around it). */
export class GraphBuilder extends NodeEmitter {
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly functions: FunctionProto[] = [];

  constructor(
    readonly graphName: string,
    opsets: Record<string, number> = { "": 17 },
    names?: NameAllocator,
  ) {
    super(opsets, names);
  }

  input(name: string, dtype: DTypeName, shape?: readonly (number | string)[]): Value {
    this.reserve(name);
    this.inputs.push(valueInfo(name, dtype, shape));
    return { name, dtype, shape };
  }

  /** Declare `value` a graph output named `name` (an Identity renames it when needed). */
  output(value: Value, name = value.name, dtype = value.dtype, shape = value.shape): Value {
    let v = value;
    if (name !== value.name) {
      this.reserve(name);
      this.nodes.push(create(NodeProtoSchema, { opType: "Identity", name: this.names.freshNode(`${name}_identity`), input: [value.name], output: [name] }));
      v = { name, dtype, shape };
    }
    this.outputs.push(valueInfo(name, dtype, shape));
    return v;
  }

  /** Declare `value` an output under a fresh name based on `hint` (subgraph outputs need their own names). */
  outputFresh(value: Value, hint: string, dtype = value.dtype, shape = value.shape): Value {
    const name = this.fresh(hint);
    this.nodes.push(create(NodeProtoSchema, { opType: "Identity", name: this.names.freshNode(`${name}_identity`), input: [value.name], output: [name] }));
    this.outputs.push(valueInfo(name, dtype, shape));
    return { name, dtype, shape };
  }

  initializer(name: string, dtype: DTypeName, data: TypedArray | readonly number[], dims: readonly number[]): Value {
    this.reserve(name);
    this.initializers.push(tensorProto(name, dtype, data, dims));
    return { name, dtype, shape: dims };
  }

  /** Attach a model-local function (its domain must be imported too). */
  addFunction(fn: FunctionProto, domainVersion = 1): void {
    if (!this.opsets.has(fn.domain)) this.opsets.set(fn.domain, domainVersion);
    if (!this.functions.some((f) => f.domain === fn.domain && f.name === fn.name)) this.functions.push(fn);
  }

  /** Import an opset (a domain this graph's nodes or functions use). */
  importOpset(domain: string, version: number): void {
    this.opsets.set(domain, version);
  }

  graph(): GraphProto {
    return create(GraphProtoSchema, { name: this.graphName, node: this.nodes, input: this.inputs, output: this.outputs, initializer: this.initializers });
  }

  model(opts: { irVersion?: number; producerName?: string; docString?: string } = {}): ModelProto {
    return create(ModelProtoSchema, {
      irVersion: BigInt(opts.irVersion ?? 9),
      producerName: opts.producerName ?? "ranksort",
      docString: opts.docString ?? "",
      opsetImport: this.opsetImports(),
      graph: this.graph(),
      functions: this.functions,
    });
  }
}

export interface FunctionAttribute {
  name: string;
  /** Default value, stored as attribute_proto so callers may omit it. */
  default?: AttrValue;
}

/** Builds a FunctionProto: inputs and attributes by name, nodes, outputs. */
export class FunctionBuilder extends NodeEmitter {
  private readonly inputNames: string[] = [];
  private readonly outputNames: string[] = [];

  constructor(
    readonly domain: string,
    readonly name: string,
    opsets: Record<string, number> = { "": 17 },
    private readonly attributes: readonly FunctionAttribute[] = [],
    readonly docString = "",
    /** Output names, reserved up front so no intermediate value takes them. */
    reservedOutputs: readonly string[] = [],
  ) {
    super(opsets);
    for (const name of reservedOutputs) this.reserve(name);
    this.reservedOutputNames = new Set(reservedOutputs);
  }

  private readonly reservedOutputNames: Set<string>;

  input(name: string, dtype?: DTypeName): Value {
    this.reserve(name);
    this.inputNames.push(name);
    return { name, dtype };
  }

  /** Declare an output; the value is renamed with an Identity node when its name differs. */
  output(value: Value, name: string): void {
    if (value.name !== name) {
      if (!this.reservedOutputNames.has(name)) this.reserve(name);
      this.nodes.push(create(NodeProtoSchema, { opType: "Identity", name: this.names.freshNode(`${name}_identity`), input: [value.name], output: [name] }));
    }
    this.outputNames.push(name);
  }

  build(): FunctionProto {
    return create(FunctionProtoSchema, {
      domain: this.domain,
      name: this.name,
      input: this.inputNames,
      output: this.outputNames,
      attribute: this.attributes.filter((a) => a.default === undefined).map((a) => a.name),
      attributeProto: this.attributes.filter((a) => a.default !== undefined).map((a) => attribute(a.name, a.default!)),
      node: this.nodes,
      opsetImport: this.opsetImports(),
      docString: this.docString,
    });
  }
}
