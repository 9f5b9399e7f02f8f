// Shapes known before running: one pass over the graph in node order, from initializers, Constant
// nodes and the inputs' declared dims, through the ops detectors are made of. Each value gets its
// rank and whichever dims are numbers (a symbolic batch stays unknown, the rest may still be known),
// and small integer tensors (shapes, axes, the Shape → Gather → Concat arithmetic of exports) get
// their values. Gradient rules use this to build the graph for the shapes it will run with —
// nothing is emitted to reduce a gradient that was not broadcast — and to pick layouts by rank.
// An op this file does not know leaves its outputs unknown; rules then fall back to run-time shapes.

import type { AttributeProto, GraphProto, NodeProto, TensorProto } from "../onnx/proto.ts";
import { intValues } from "../onnx/tensor_values.ts";

/** Rank-long; an entry is undefined where that dim is not known before running. */
export type Dims = (number | undefined)[];

export interface StaticShapes {
  /** The value's dims where its rank is known, else undefined. */
  dims(name: string): Dims | undefined;
  /** The value's dims when every one is known. */
  fullDims(name: string): number[] | undefined;
  /** The values of a small int64/int32 tensor (at most MAX_VALUES elements) when known. */
  values(name: string): number[] | undefined;
  /** The values of a small float32 tensor (constants, and the size arithmetic on them) when known. */
  floatValues(name: string): number[] | undefined;
}

const MAX_VALUES = 64;
/** TensorProto data types of integers (int8 … uint64): values through a Cast to these stay exact. */
const INT_TYPES = new Set([2, 3, 4, 5, 6, 7, 12, 13]);

const SAME_SHAPE = new Set([
  "Abs", "Acos", "Asin", "Atan", "BatchNormalization", "Cast", "CastLike", "Ceil", "Celu", "Clip", "Cos", "Cosh", "Dropout",
  "Elu", "Erf", "Exp", "Floor", "Gelu", "HardSigmoid", "HardSwish", "Identity", "InstanceNormalization", "IsInf", "IsNaN",
  "LayerNormalization", "GroupNormalization", "LeakyRelu", "Log", "LogSoftmax", "LpNormalization", "LRN", "MeanVarianceNormalization",
  "Mish", "Neg", "Not", "Reciprocal", "Relu", "Round", "Selu", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh", "Softmax", "Softplus",
  "Softsign", "Sqrt", "Tan", "Tanh", "ThresholdedRelu", "Hardmax", "CumSum",
]);
const BROADCAST = new Set([
  "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "Equal", "Greater", "Less", "GreaterOrEqual",
  "LessOrEqual", "And", "Or", "Xor", "Mod", "PRelu", "BitShift",
]);
const REDUCE = new Set(["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"]);
const POOL = new Set(["MaxPool", "AveragePool", "LpPool"]);
const RANK_KEEPING = new Set(["Conv", "ConvTranspose", ...POOL, "Pad", "Resize", "Upsample", "Concat", "Slice", "Tile", "Transpose", "TopK"]);

/** The dims when every one is known. */
export function allKnown(d: Dims | undefined): number[] | undefined {
  return d && d.every((v) => v !== undefined) ? (d as number[]) : undefined;
}

/** Numpy broadcasting of known-rank dims; undefined where the inputs contradict each other. */
export function broadcastDims(shapes: Dims[]): Dims | undefined {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dims = [];
  for (let k = 0; k < rank; k++) {
    let d: number | undefined = 1;
    let unknown = false;
    for (const s of shapes) {
      const x = s[s.length - rank + k];
      if (s.length - rank + k < 0 || x === 1) continue;
      if (x === undefined) unknown = true;
      else if (d === 1) d = x;
      else if (d !== x) return undefined;
    }
    // An unknown dim beside only 1s may be anything; beside a known n > 1 it must be n (or 1).
    out.push(unknown && d === 1 ? undefined : d);
  }
  return out;
}

function attr(n: NodeProto, name: string): AttributeProto | undefined {
  return n.attribute.find((a) => a.name === name);
}
function attrInt(n: NodeProto, name: string, fallback: number): number {
  const a = attr(n, name);
  return a ? Number(a.i) : fallback;
}
function attrInts(n: NodeProto, name: string): number[] | undefined {
  const a = attr(n, name);
  return a ? a.ints.map(Number) : undefined;
}
function attrString(n: NodeProto, name: string, fallback: string): string {
  const a = attr(n, name);
  return a ? new TextDecoder().decode(a.s) : fallback;
}
const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);
const product = (d: Dims) => d.reduce<number | undefined>((a, b) => (a === undefined || b === undefined ? undefined : a * b), 1);

/** Output spatial size of a convolution or pool along one axis (ONNX's formulas, explicit pads). */
function windowOut(size: number | undefined, k: number, stride: number, dilation: number, padBegin: number, padEnd: number, ceil: boolean): number | undefined {
  if (size === undefined) return undefined;
  const span = size + padBegin + padEnd - dilation * (k - 1) - 1;
  let out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  // With ceil_mode the last window must still start inside the input or the leading pad.
  if (ceil && (out - 1) * stride >= size + padBegin) out--;
  return out;
}

export function staticShapes(g: GraphProto): StaticShapes {
  const dims = new Map<string, Dims>();
  const values = new Map<string, number[]>();
  const floats = new Map<string, number[]>(); // small float32 values (Resize's scales, size arithmetic)
  const isInt = (t: TensorProto) => t.dataType === 7 || t.dataType === 6;
  const fromTensor = (name: string, t: TensorProto) => {
    dims.set(name, t.dims.map(Number));
    const count = t.dims.reduce((a, b) => a * Number(b), 1);
    if (isInt(t) && count <= MAX_VALUES) values.set(name, intValues(t));
    if (t.dataType === 1 && count <= MAX_VALUES) floats.set(name, float32Values(t));
  };
  for (const t of g.initializer) fromTensor(t.name, t);
  for (const v of g.input) {
    if (dims.has(v.name)) continue;
    const shape = v.type?.value.case === "tensorType" ? v.type.value.value.shape : undefined;
    if (shape) dims.set(v.name, shape.dim.map((d) => (d.value.case === "dimValue" ? Number(d.value.value) : undefined)));
  }
  const D = (name: string | undefined) => (name ? dims.get(name) : undefined);
  const V = (name: string | undefined) => (name ? values.get(name) : undefined);
  for (const n of g.node) {
    try {
      infer(n);
      inferValues(n);
    } catch {
      // A malformed node (wrong input count, axis out of range): its outputs stay unknown.
    }
    // Where the dims could not be worked out, ops that keep their input's rank still tell the rank.
    const x = D(n.input[0]);
    if (x && n.output[0] && !dims.has(n.output[0]) && (!n.domain || n.domain === "ai.onnx") && RANK_KEEPING.has(n.opType)) {
      dims.set(n.output[0], Array(x.length).fill(undefined));
    }
  }
  function set(name: string | undefined, d: Dims | undefined, v?: number[]): void {
    if (!name || !d) return;
    dims.set(name, d);
    if (v && v.length <= MAX_VALUES) values.set(name, v);
  }
  function infer(n: NodeProto): void {
    const op = n.domain && n.domain !== "ai.onnx" ? "" : n.opType;
    const x = D(n.input[0]);
    const out = n.output[0];
    if (op === "Constant") {
      const t = attr(n, "value")?.t;
      if (t) fromTensor(out!, t);
      const ints = attrInts(n, "value_ints");
      if (attr(n, "value_ints")) set(out, [ints!.length], ints);
      if (attr(n, "value_int")) set(out, [], [attrInt(n, "value_int", 0)]);
      if (attr(n, "value_float")) set(out, []);
      if (attr(n, "value_floats")) set(out, [attr(n, "value_floats")!.floats.length]);
      return;
    }
    if (SAME_SHAPE.has(op)) {
      // A Cast keeps integer values only when it casts to an integer type (float values: inferValues).
      const keepsInts = op === "Identity" || (op === "Cast" && INT_TYPES.has(attrInt(n, "to", 0)));
      set(out, x, keepsInts ? V(n.input[0]) : undefined);
      if (op === "BatchNormalization" && x && x.length > 1) for (const o of n.output.slice(1)) set(o, [x[1]]);
      if (op === "Dropout" && n.output[1]) set(n.output[1], x);
      return;
    }
    if (BROADCAST.has(op)) {
      const ins = n.input.filter(Boolean).map(D);
      if (ins.some((s) => !s)) return;
      const d = broadcastDims(ins as Dims[]);
      const vs = n.input.map(V);
      let v: number[] | undefined;
      const count = d?.length === 0 ? 1 : d?.length === 1 ? d[0] : undefined;
      if (["Add", "Sub", "Mul", "Div"].includes(op) && vs.length === 2 && vs[0] && vs[1] && count !== undefined) {
        const [a, b] = vs as [number[], number[]];
        const at = (arr: number[], i: number) => arr[arr.length === 1 ? 0 : i]!;
        v = Array.from({ length: count }, (_, i) => {
          const [p, q] = [at(a, i), at(b, i)];
          return op === "Add" ? p + q : op === "Sub" ? p - q : op === "Mul" ? p * q : Math.trunc(p / q);
        });
      }
      set(out, d, v);
      return;
    }
    if (REDUCE.has(op)) {
      if (!x) return;
      const keep = attrInt(n, "keepdims", 1) === 1;
      const axesIn = attrInts(n, "axes") ?? (n.input[1] ? V(n.input[1]) : []);
      if (!axesIn) return;
      const axes = new Set(axesIn.map((a) => norm(a, x.length)));
      if (axes.size === 0 && attrInt(n, "noop_with_empty_axes", 0) === 1) return set(out, x);
      const all = axes.size === 0;
      set(out, keep ? x.map((d, k) => (all || axes.has(k) ? 1 : d)) : x.filter((_, k) => !(all || axes.has(k))));
      return;
    }
    switch (op) {
      case "Shape": {
        if (!x) return;
        const r = x.length;
        const s = norm(Math.max(-r, Math.min(r, attrInt(n, "start", 0))), r);
        const endAttr = attr(n, "end") ? norm(Math.max(-r, Math.min(r, attrInt(n, "end", r))), r) : r;
        const part = x.slice(s, Math.max(s, endAttr));
        set(out, [part.length], part.every((d) => d !== undefined) ? (part as number[]) : undefined);
        return;
      }
      case "Size":
        if (x) set(out, [], product(x) !== undefined ? [product(x)!] : undefined);
        return;
      case "Conv":
      case "ConvTranspose": {
        const w = D(n.input[1]);
        if (!x || !w || x.length < 3) return;
        const sp = x.length - 2;
        const k = attrInts(n, "kernel_shape") ?? (w.slice(2) as number[]);
        if (k.some((v) => v === undefined)) return;
        const strides = attrInts(n, "strides") ?? Array(sp).fill(1);
        const dil = attrInts(n, "dilations") ?? Array(sp).fill(1);
        const pads = attrInts(n, "pads") ?? Array(2 * sp).fill(0);
        const autoPad = attrString(n, "auto_pad", "NOTSET");
        const group = attrInt(n, "group", 1);
        if (op === "Conv") {
          const spatial = x.slice(2).map((s, i) =>
            autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER" ? (s === undefined ? undefined : Math.ceil(s / strides[i]!))
            : windowOut(s, k[i]!, strides[i]!, dil[i]!, autoPad === "VALID" ? 0 : pads[i]!, autoPad === "VALID" ? 0 : pads[i + sp]!, false));
          set(out, [x[0], w[0], ...spatial]);
        } else {
          if (autoPad !== "NOTSET") return;
          const outPad = attrInts(n, "output_padding") ?? Array(sp).fill(0);
          const given = attrInts(n, "output_shape");
          const spatial = given ?? x.slice(2).map((s, i) => (s === undefined ? undefined : strides[i]! * (s - 1) + outPad[i]! + (k[i]! - 1) * dil[i]! + 1 - pads[i]! - pads[i + sp]!));
          set(out, [x[0], w[1] === undefined ? undefined : w[1] * group, ...spatial]);
        }
        return;
      }
      case "MaxPool":
      case "AveragePool":
      case "LpPool": {
        if (!x || !POOL.has(op) || attrString(n, "auto_pad", "NOTSET") !== "NOTSET") return;
        const k = attrInts(n, "kernel_shape");
        if (!k) return;
        const sp = k.length;
        const strides = attrInts(n, "strides") ?? Array(sp).fill(1);
        const dil = attrInts(n, "dilations") ?? Array(sp).fill(1);
        const pads = attrInts(n, "pads") ?? Array(2 * sp).fill(0);
        const ceil = attrInt(n, "ceil_mode", 0) === 1;
        const d = [x[0], x[1], ...x.slice(2).map((s, i) => windowOut(s, k[i]!, strides[i]!, dil[i]!, pads[i]!, pads[i + sp]!, ceil))];
        set(out, d);
        if (op === "MaxPool") set(n.output[1], d);
        return;
      }
      case "GlobalAveragePool":
      case "GlobalMaxPool":
        if (x) set(out, [x[0], x[1], ...x.slice(2).map(() => 1)]);
        return;
      case "Gemm": {
        const b = D(n.input[1]);
        if (!x || !b || x.length !== 2 || b.length !== 2) return;
        set(out, [attrInt(n, "transA", 0) ? x[1] : x[0], attrInt(n, "transB", 0) ? b[0] : b[1]]);
        return;
      }
      case "MatMul": {
        const b = D(n.input[1]);
        if (!x || !b || !x.length || !b.length) return;
        const a2 = x.length === 1 ? [1, x[0]] : x;
        const b2 = b.length === 1 ? [b[0], 1] : b;
        const batch = broadcastDims([a2.slice(0, -2), b2.slice(0, -2)]);
        if (!batch) return;
        set(out, [...batch, ...(x.length === 1 ? [] : [a2[a2.length - 2]]), ...(b.length === 1 ? [] : [b2[b2.length - 1]])]);
        return;
      }
      case "Reshape": {
        const shape = V(n.input[1]);
        if (!shape) {
          const s = D(n.input[1]);
          if (s?.length === 1 && s[0] !== undefined) set(out, Array(s[0]).fill(undefined));
          return;
        }
        const allowZero = attrInt(n, "allowzero", 0) === 1;
        const d: Dims = shape.map((v, k) => (v === 0 && !allowZero ? x?.[k] : v === -1 ? undefined : v));
        const minus = shape.indexOf(-1);
        if (minus >= 0 && x) {
          const total = product(x);
          const rest = product(d.filter((_, k) => k !== minus));
          if (total !== undefined && rest !== undefined && rest > 0) d[minus] = total / rest;
        }
        set(out, d, V(n.input[0]));
        return;
      }
      case "Flatten": {
        if (!x) return;
        const axis = norm(attrInt(n, "axis", 1), x.length);
        set(out, [product(x.slice(0, axis)), product(x.slice(axis))]);
        return;
      }
      case "Transpose": {
        if (!x) return;
        const perm = attrInts(n, "perm") ?? x.map((_, k) => x.length - 1 - k);
        const v = V(n.input[0]);
        const full = allKnown(x);
        set(out, perm.map((p) => x[p]), v && full ? gatherValues(v, full, full.map((size) => Array.from({ length: size }, (_, i) => i)), perm) : undefined);
        return;
      }
      case "Concat": {
        const ins = n.input.filter(Boolean).map(D);
        if (ins.some((s) => !s) || !ins.length) return;
        const r = ins[0]!.length;
        const axis = norm(attrInt(n, "axis", 0), r);
        const d: Dims = [];
        for (let k = 0; k < r; k++) {
          if (k === axis) d.push(ins.reduce<number | undefined>((a, s) => (a === undefined || s![k] === undefined ? undefined : a + s![k]!), 0));
          else d.push(ins.map((s) => s![k]).find((v) => v !== undefined));
        }
        const vs = n.input.filter(Boolean).map(V);
        set(out, d, r === 1 && vs.every(Boolean) ? vs.flat() as number[] : undefined);
        return;
      }
      case "Split": {
        if (!x) return;
        const axis = norm(attrInt(n, "axis", 0), x.length);
        const outs = n.output.filter(Boolean);
        let sizes = attrInts(n, "split") ?? V(n.input[1]);
        const along = x[axis];
        if (!sizes && along !== undefined) {
          const parts = attr(n, "num_outputs") ? attrInt(n, "num_outputs", outs.length) : outs.length;
          const chunk = Math.ceil(along / parts);
          sizes = Array.from({ length: outs.length }, (_, i) => Math.min(chunk, along - chunk * i));
        }
        n.output.forEach((o, i) => set(o, x.map((v, k) => (k === axis ? sizes?.[i] : v))));
        return;
      }
      case "Slice": {
        if (!x) return;
        const starts = attrInts(n, "starts") ?? V(n.input[1]);
        const ends = attrInts(n, "ends") ?? V(n.input[2]);
        if (!starts || !ends) return;
        const axes = attrInts(n, "axes") ?? (n.input[3] ? V(n.input[3]) : starts.map((_, i) => i));
        const steps = n.input[4] ? V(n.input[4]) : starts.map(() => 1);
        if (!axes || !steps) return;
        const d = [...x];
        axes.forEach((a0, i) => {
          const a = norm(a0, x.length);
          const size = x[a];
          if (size === undefined) return;
          const step = steps[i]!;
          const clampStart = (v: number) => (v < 0 ? v + size : v);
          let s = clampStart(starts[i]!);
          let e = clampStart(ends[i]!);
          if (step > 0) {
            s = Math.max(0, Math.min(size, s));
            e = Math.max(0, Math.min(size, e));
            d[a] = Math.max(0, Math.ceil((e - s) / step));
          } else {
            s = Math.max(-1, Math.min(size - 1, s));
            e = Math.max(-1, Math.min(size - 1, e));
            d[a] = Math.max(0, Math.ceil((s - e) / -step));
          }
        });
        // The values of a small integer tensor, sliced along each axis (pads reversed by a step of −1, say).
        const v = V(n.input[0]);
        const full = allKnown(x);
        let sliced: number[] | undefined;
        if (v && full && allKnown(d)) {
          const picks = full.map((size, a) => Array.from({ length: size }, (_, i) => i));
          axes.forEach((a0, i) => {
            const a = norm(a0, x.length);
            const size = full[a]!;
            const step = steps[i]!;
            const start = starts[i]! < 0 ? starts[i]! + size : starts[i]!;
            const first = step > 0 ? Math.max(0, Math.min(size, start)) : Math.max(-1, Math.min(size - 1, start));
            picks[a] = Array.from({ length: d[a]! }, (_, j) => first + j * step);
          });
          sliced = gatherValues(v, full, picks);
        }
        set(out, d, sliced);
        return;
      }
      case "Pad": {
        if (!x) return;
        const pads = attrInts(n, "pads") ?? V(n.input[1]);
        if (!pads) return;
        const axes = n.input[3] ? V(n.input[3])?.map((a) => norm(a, x.length)) : x.map((_, k) => k);
        if (!axes) return;
        const d = [...x];
        axes.forEach((a, i) => (d[a] = d[a] === undefined ? undefined : d[a]! + pads[i]! + pads[i + axes.length]!));
        set(out, d);
        return;
      }
      case "Unsqueeze": {
        if (!x) return;
        const axes = attrInts(n, "axes") ?? V(n.input[1]);
        if (!axes) return;
        const r = x.length + axes.length;
        const at = new Set(axes.map((a) => norm(a, r)));
        const d: Dims = [];
        for (let k = 0, j = 0; k < r; k++) d.push(at.has(k) ? 1 : x[j++]);
        set(out, d, V(n.input[0]));
        return;
      }
      case "Squeeze": {
        if (!x) return;
        const axes = attrInts(n, "axes") ?? (n.input[1] ? V(n.input[1]) : undefined);
        if (!axes && (n.input[1] || x.some((v) => v === undefined))) return;
        const at = new Set((axes ?? x.flatMap((v, k) => (v === 1 ? [k] : []))).map((a) => norm(a, x.length)));
        set(out, x.filter((_, k) => !at.has(k)), V(n.input[0]));
        return;
      }
      case "Gather": {
        const idx = D(n.input[1]);
        if (!x || !idx) return;
        const axis = norm(attrInt(n, "axis", 0), x.length);
        const d = [...x.slice(0, axis), ...idx, ...x.slice(axis + 1)];
        const [v, iv] = [V(n.input[0]), V(n.input[1])];
        set(out, d, v && iv && x.length === 1 ? iv.map((i) => v[i < 0 ? i + v.length : i]!) : undefined);
        return;
      }
      case "Expand": {
        const shape = V(n.input[1]);
        if (x && shape) set(out, broadcastDims([x, shape]));
        return;
      }
      case "Tile": {
        const reps = V(n.input[1]);
        if (x && reps) set(out, x.map((d, k) => (d === undefined ? undefined : d * reps[k]!)));
        return;
      }
      case "ConstantOfShape": {
        const shape = V(n.input[0]);
        if (!shape) return;
        const t = attr(n, "value")?.t;
        const count = product(shape)!;
        const fill = t ? (isInt(t) ? intValues(t)[0] : undefined) : undefined;
        // An integer fill (or the default, float 0 — only when there is nothing to fill) has values.
        set(out, shape, count <= MAX_VALUES && (fill !== undefined || count === 0) ? Array(count).fill(fill ?? 0) : undefined);
        return;
      }
      case "Range": {
        const [s, l, dl] = [V(n.input[0]), V(n.input[1]), V(n.input[2])];
        if (s && l && dl) {
          const count = Math.max(0, Math.ceil((l[0]! - s[0]!) / dl[0]!));
          set(out, [count], Array.from({ length: count }, (_, i) => s[0]! + i * dl[0]!));
        }
        return;
      }
      case "Resize":
      case "Upsample": {
        if (!x) return;
        // Upsample and opset-10 Resize: (X, scales); later Resize: (X, roi, scales, sizes).
        const scalesName = op === "Upsample" || n.input.length === 2 ? n.input[1] : n.input[2];
        const scales = scalesName ? floats.get(scalesName) : undefined;
        const floatScales = scales?.length ? scales : undefined;
        const sizesIn = n.input[3] ? V(n.input[3]) : undefined;
        const axes = attrInts(n, "axes")?.map((a) => norm(a, x.length)) ?? x.map((_, k) => k);
        const d = [...x];
        if (sizesIn) axes.forEach((a, i) => (d[a] = sizesIn[i]));
        else if (floatScales) axes.forEach((a, i) => (d[a] = d[a] === undefined ? undefined : Math.floor(d[a]! * floatScales[i]!)));
        else return;
        set(out, d);
        return;
      }
      case "TopK": {
        const k = V(n.input[1]);
        if (!x || !k) return;
        const axis = norm(attrInt(n, "axis", -1), x.length);
        const d = x.map((v, j) => (j === axis ? k[0] : v));
        set(out, d);
        set(n.output[1], d);
        return;
      }
      case "ArgMax":
      case "ArgMin": {
        if (!x) return;
        const axis = norm(attrInt(n, "axis", 0), x.length);
        set(out, attrInt(n, "keepdims", 1) ? x.map((v, k) => (k === axis ? 1 : v)) : x.filter((_, k) => k !== axis));
        return;
      }
    }
  }
  /**
   * Values of small tensors through the scalar arithmetic exports do on sizes (torchvision's
   * transform: image size → float scale → floor → int sizes for Resize): float32 values are
   * rounded to float32 after every op, as onnxruntime computes them, so the sizes come out exact.
   */
  function inferValues(n: NodeProto): void {
    const op = n.domain && n.domain !== "ai.onnx" ? "" : n.opType;
    const out = n.output[0];
    if (!out) return;
    const F = (name: string | undefined) => (name ? floats.get(name) : undefined);
    const setFloats = (f: number[] | undefined) => {
      if (f && f.length <= MAX_VALUES && f.every(Number.isFinite)) floats.set(out, f.map(Math.fround));
    };
    const setInts = (v: number[] | undefined) => {
      if (v && v.length <= MAX_VALUES && v.every(Number.isSafeInteger)) values.set(out, v);
    };
    const x = F(n.input[0]);
    switch (op) {
      case "Constant":
        if (attr(n, "value_float")) setFloats([attr(n, "value_float")!.f]);
        if (attr(n, "value_floats")) setFloats([...attr(n, "value_floats")!.floats]);
        return;
      case "Cast": {
        const to = attrInt(n, "to", 0);
        const ints = V(n.input[0]);
        if (to === 1) setFloats(x ?? ints);
        else if ((to === 6 || to === 7) && x) setInts(x.map(Math.trunc));
        return;
      }
      case "Identity":
      case "Unsqueeze":
      case "Squeeze":
      case "Reshape":
      case "Flatten":
        return setFloats(x);
      case "Neg":
        return setFloats(x?.map((v) => -v));
      case "Abs":
        return setFloats(x?.map(Math.abs));
      case "Reciprocal":
        return setFloats(x?.map((v) => 1 / v));
      case "Sqrt":
        return setFloats(x?.map(Math.sqrt));
      case "Floor":
        return setFloats(x?.map(Math.floor));
      case "Ceil":
        return setFloats(x?.map(Math.ceil));
      case "Add":
      case "Sub":
      case "Mul":
      case "Div":
      case "Min":
      case "Max": {
        const fs = n.input.map(F);
        const is = n.input.map(V);
        const numeric = fs.every(Boolean) ? { vals: fs as number[][], float: true } : is.every(Boolean) && (op === "Min" || op === "Max") ? { vals: is as number[][], float: false } : undefined;
        if (!numeric || !numeric.vals.length) return;
        const count = Math.max(...numeric.vals.map((v) => v.length));
        if (numeric.vals.some((v) => v.length !== 1 && v.length !== count)) return;
        const at = (v: number[], i: number) => v[v.length === 1 ? 0 : i]!;
        const combine = (p: number, q: number) =>
          op === "Add" ? p + q : op === "Sub" ? p - q : op === "Mul" ? p * q : op === "Div" ? p / q : op === "Min" ? Math.min(p, q) : Math.max(p, q);
        const result = Array.from({ length: count }, (_, i) =>
          numeric.vals.slice(1).reduce((acc, v) => (numeric.float ? Math.fround(combine(acc, at(v, i))) : combine(acc, at(v, i))), at(numeric.vals[0]!, i)));
        return numeric.float ? setFloats(result) : setInts(result);
      }
      case "ReduceMin":
      case "ReduceMax":
      case "ReduceProd":
      case "ReduceSum": {
        // Only a reduction of a 1-D tensor to one value (a shape's min or max, say).
        const d = D(n.input[0]);
        if (d?.length !== 1) return;
        const reduce = (v: number[]) =>
          v.length === 0 ? undefined : [v.reduce((a, b) => (op === "ReduceMin" ? Math.min(a, b) : op === "ReduceMax" ? Math.max(a, b) : op === "ReduceProd" ? a * b : a + b))];
        const ints = V(n.input[0]);
        if (ints) setInts(reduce(ints));
        else if (x && (op === "ReduceMin" || op === "ReduceMax")) setFloats(reduce(x));
        return;
      }
      case "Concat": {
        const fs = n.input.filter(Boolean).map(F);
        if (fs.length && fs.every(Boolean) && D(out)?.length === 1) setFloats(fs.flat() as number[]);
        return;
      }
    }
  }
  return {
    dims: (name) => dims.get(name),
    fullDims: (name) => allKnown(dims.get(name)),
    values: (name) => values.get(name),
    floatValues: (name) => floats.get(name),
  };
}

/**
 * Row-major values of a small tensor of `dims`, keeping along each axis the indices `picks[axis]`,
 * the axes walked in `order` (the identity for a slice, the permutation for a transpose).
 */
function gatherValues(v: number[], dims: number[], picks: number[][], order: number[] = dims.map((_, a) => a)): number[] {
  const strides = dims.map((_, a) => dims.slice(a + 1).reduce((p, q) => p * q, 1));
  const out: number[] = [];
  const walk = (k: number, offset: number) => {
    if (k === order.length) return void out.push(v[offset]!);
    const a = order[k]!;
    for (const i of picks[a]!) walk(k + 1, offset + i * strides[a]!);
  };
  walk(0, 0);
  return out;
}

function float32Values(t: TensorProto): number[] {
  return t.rawData.length ? Array.from(new Float32Array(new Uint8Array(t.rawData).buffer)) : [...t.floatData];
}
