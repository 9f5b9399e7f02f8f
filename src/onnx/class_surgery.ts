// Changing a detector's class count inside its graph: the class branch's last convolutions get new
// output rows (kept rows of chosen classes, or fresh rows), and every constant after them that
// spells the class count — reshape shapes (literal or assembled by Concat), split sizes, slice ends —
// is rewritten. The class axis is followed through the graph with the original tensor shapes
// (measured by the caller), so a constant is changed only where it sizes that axis; dimensions the
// graph computes with Shape follow by themselves. Where the class axis is merged away (flattened
// scores, TopK) nothing is left to rewrite. An op that would need a rewrite this file does not know
// is an error naming it: the caller validates the result by running it.

import { tensorProto } from "./builder.ts";
import { pruneToOutputs } from "./cut.ts";
import { intValues } from "./tensor_values.ts";
import { clone, type GraphProto, type ModelProto, ModelProtoSchema, type NodeProto, type TensorProto } from "./proto.ts";

export class ClassSurgeryError extends Error {
  override name = "ClassSurgeryError";
}

/** Which rows a class conv keeps: per anchor group, the old channel (≥ 0) or a fresh row (−1). */
export interface ClassRows {
  /** Anchor groups along the conv's output channels (channel = group · oldClasses + class). */
  groups: number;
  oldClasses: number;
  rows: number[];
  /** Bias of fresh rows (prior probability 0.01: −log(99)). */
  freshBias: number;
  /** Standard deviation of fresh weights. */
  freshStd: number;
  seed: number;
}

/** The class axis of a tensor: its index, its old and new size, and where the class block starts. */
interface Tracked {
  axis: number;
  old: number;
  now: number;
  /** Channels before the class block on this axis, and the block's old length. */
  pre: number;
  block: number;
  /** Anchor groups interleaved on this axis (class block repeated); 1 once split off. */
  groups: number;
}

function floatValues(t: TensorProto): Float32Array {
  if (t.rawData.length) return new Float32Array(new Uint8Array(t.rawData).buffer);
  return Float32Array.from(t.floatData);
}

function gaussian(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const u = () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) + 0.5) / 4294967296;
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/**
 * Rewrites `source` so the convs `convNodes` (names) emit `rows` per anchor group. `shapes`: the
 * original model's tensor shapes for every value after those convs (from one probe run).
 */
export function rewriteClassChannels(source: ModelProto, convNodes: readonly string[], spec: ClassRows, shapes: ReadonlyMap<string, readonly number[]>, label = "model"): ModelProto {
  const model = clone(ModelProtoSchema, source);
  const g = model.graph!;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const constNodes = new Map<string, NodeProto>();
  for (const n of g.node) if (n.opType === "Constant") constNodes.set(n.output[0]!, n);
  const byOutput = new Map<string, NodeProto>();
  for (const n of g.node) for (const o of n.output) if (o) byOutput.set(o, n);
  const fail = (why: string) => new ClassSurgeryError(`${label}: cannot rewrite the class outputs: ${why}`);
  const K = spec.oldClasses;
  const K2 = spec.rows.length;
  const rand = gaussian(spec.seed);
  const done = new Set<string>();
  const tracked = new Map<string, Tracked>();
  for (const name of convNodes) {
    const conv = g.node.find((n) => n.name === name);
    if (!conv || conv.opType !== "Conv") throw fail(`"${name}" is not a Conv node`);
    for (const [i, per] of [[1, "weight"], [2, "bias"]] as const) {
      const t = inits.get(conv.input[i] ?? "");
      if (!t) {
        if (i === 2) continue;
        throw fail(`conv "${name}" has no ${per} initializer`);
      }
      if (done.has(t.name)) continue;
      done.add(t.name);
      const dims = t.dims.map(Number);
      if (dims[0] !== spec.groups * K) throw fail(`conv "${name}" ${per} "${t.name}" has ${dims[0]} rows, expected ${spec.groups} × ${K}`);
      const per_row = dims.slice(1).reduce((a, b) => a * b, 1);
      const old = floatValues(t);
      const out = new Float32Array(spec.groups * K2 * per_row);
      for (let a = 0; a < spec.groups; a++) {
        spec.rows.forEach((r, c) => {
          const at = (a * K2 + c) * per_row;
          if (r >= 0) out.set(old.subarray((a * K + r) * per_row, (a * K + r + 1) * per_row), at);
          else for (let k = 0; k < per_row; k++) out[at + k] = i === 2 ? spec.freshBias : rand() * spec.freshStd;
        });
      }
      Object.assign(t, tensorProto(t.name, "float32", out, [spec.groups * K2, ...dims.slice(1)]));
    }
    tracked.set(conv.output[0]!, { axis: 1, old: spec.groups * K, now: spec.groups * K2, pre: 0, block: spec.groups * K, groups: spec.groups });
  }
  let fresh = 0;
  const readers = new Map<string, number>();
  for (const n of g.node) for (const i of n.input) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  /**
   * Input `i` of `node` becomes the int64 constant `values`: edited in place when only this node
   * reads it (the graph keeps its node types), else a new initializer (shared constants stay).
   */
  const setInts = (node: NodeProto, i: number, values: number[]) => {
    const name = node.input[i]!;
    if (readers.get(name) === 1) {
      const init = inits.get(name);
      const attr = constNodes.get(name)?.attribute.find((a) => a.name === "value");
      const dtype = (init ?? attr?.t)?.dataType === 6 ? "int32" : "int64";
      const dims = (init ?? attr?.t)?.dims.map(Number) ?? [values.length];
      if (init) return void Object.assign(init, tensorProto(name, dtype, values, dims));
      if (attr?.t) return void (attr.t = tensorProto(attr.t.name, dtype, values, dims));
    }
    const fresh_ = `${node.output[0]}__classes${fresh++}`;
    g.initializer.push(tensorProto(fresh_, "int64", values, [values.length]));
    node.input[i] = fresh_;
  };
  const constantOf = (name: string): number[] | undefined => {
    const t = inits.get(name) ?? constNodes.get(name)?.attribute.find((a) => a.name === "value")?.t;
    return t ? intValues(t) : undefined;
  };
  const shape = (name: string) => shapes.get(name);
  for (const n of g.node) {
    const ins = n.input.map((x) => tracked.get(x));
    const s = ins.find((x) => x);
    if (!s) continue;
    const out0 = n.output[0]!;
    const delta = s.now - s.old;
    const pass = (t: Tracked = s) => tracked.set(out0, t);
    switch (n.opType) {
      case "Sigmoid": case "Relu": case "Exp": case "Log": case "Neg": case "Identity": case "Cast": case "Clip": case "Sqrt": case "Abs":
        pass();
        break;
      case "Softmax": case "LogSoftmax":
        pass();
        break;
      case "Add": case "Sub": case "Mul": case "Div": case "Max": case "Min": case "Pow": case "Greater": case "Less": case "Equal": case "Where": {
        n.input.forEach((x, k) => {
          if (ins[k]) return;
          const d = shape(x);
          const r = shape(out0)?.length ?? 0;
          const dim = d ? d[d.length - (r - s.axis)] : undefined;
          if (dim !== undefined && dim !== 1) throw fail(`"${n.name}" (${n.opType}) combines the class axis with "${x}", which is ${dim} wide on it`);
        });
        pass();
        break;
      }
      case "Transpose": {
        const perm = n.attribute.find((a) => a.name === "perm")!.ints.map(Number);
        pass({ ...s, axis: perm.indexOf(s.axis) });
        break;
      }
      case "Squeeze": case "Unsqueeze": {
        const din = shape(n.input[0]!)!;
        const dout = shape(out0)!;
        // The class axis keeps its place among the dims that are not 1.
        const before = din.slice(0, s.axis).filter((d) => d !== 1).length;
        let j = -1;
        for (let k = 0, seen = 0; k < dout.length; k++) if (dout[k] !== 1 && seen++ === before) j = k;
        if (j < 0) throw fail(`"${n.name}" (${n.opType}) removes the class axis`);
        pass({ ...s, axis: j });
        break;
      }
      case "Concat": {
        const axis = Number(n.attribute.find((a) => a.name === "axis")!.i);
        const r = shape(out0)!.length;
        const ax = axis < 0 ? axis + r : axis;
        if (ax === s.axis) {
          if (ins.filter((x) => x).length !== 1 || s.groups !== 1) throw fail(`"${n.name}" concatenates several class blocks on the class axis`);
          let pre = 0;
          for (let k = 0; k < n.input.length && !ins[k]; k++) pre += shape(n.input[k]!)![ax]!;
          const total = shape(out0)![ax]!;
          pass({ axis: ax, old: total, now: total + delta, pre: pre + s.pre, block: s.block, groups: 1 });
        } else {
          if (ins.some((x, k) => !x && shape(n.input[k]!)?.[s.axis] !== undefined) || ins.some((x) => x && (x.axis !== s.axis || x.old !== s.old || x.pre !== s.pre))) {
            throw fail(`"${n.name}" concatenates class tensors with tensors of another layout`);
          }
          pass();
        }
        break;
      }
      case "Reshape": {
        const din = shape(n.input[0]!)!;
        const dout = shape(out0)!;
        const prod = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);
        const after = prod(din.slice(s.axis + 1));
        // Same axis (possibly with leading dims merged or split).
        let j = dout.findIndex((d, k) => d === din[s.axis] && prod(dout.slice(k + 1)) === after);
        let next: Tracked | undefined = j >= 0 ? { ...s, axis: j } : undefined;
        let newValue = s.now;
        if (!next && s.groups > 1 && s.pre === 0) {
          // [.., A·K, ..] → [.., A, K, ..]: the class axis splits off its anchor groups.
          j = dout.findIndex((d, k) => d === s.old / s.groups && dout[k - 1] === s.groups && prod(dout.slice(k + 1)) === after);
          if (j >= 0) {
            next = { axis: j, old: K, now: K2, pre: 0, block: K, groups: 1 };
            newValue = K2;
          }
        }
        if (!next) {
          // The class axis merges with others (flattened scores): sizes are computed downstream.
          const target = constantOf(n.input[1]!);
          if (target && target.some((v) => v > 0 && v % (s.old) === 0 && v !== s.old && !din.includes(v))) throw fail(`"${n.name}" flattens the class axis into a literal size`);
          break;
        }
        rewriteShapeEntry(n, j, next.old, newValue);
        pass(next);
        break;
      }
      case "Split": {
        const axis = Number(n.attribute.find((a) => a.name === "axis")?.i ?? 0n);
        const r = shape(n.input[0]!)!.length;
        const ax = axis < 0 ? axis + r : axis;
        if (ax !== s.axis) {
          for (const o of n.output) tracked.set(o, s);
          break;
        }
        const sizes = n.output.map((o) => shape(o)![ax]!);
        let start = 0;
        const k = sizes.findIndex((z) => (start += z) > s.pre && start - z <= s.pre);
        const from = sizes.slice(0, k).reduce((a, b) => a + b, 0);
        if (k < 0 || from + sizes[k]! < s.pre + s.block || s.groups !== 1) throw fail(`"${n.name}" splits the class block`);
        const newSizes = sizes.map((z, i) => (i === k ? z + delta : z));
        const splitInput = n.input[1];
        if (splitInput) setInts(n, 1, newSizes);
        else {
          const attr = n.attribute.find((a) => a.name === "split");
          if (attr) attr.ints = newSizes.map(BigInt);
        }
        tracked.set(n.output[k]!, { axis: ax, old: sizes[k]!, now: sizes[k]! + delta, pre: s.pre - from, block: s.block, groups: 1 });
        break;
      }
      case "Slice": {
        const axes = n.input[3] ? constantOf(n.input[3]) : undefined;
        const r = shape(n.input[0]!)!.length;
        const starts = constantOf(n.input[1]!);
        const ends = constantOf(n.input[2]!);
        const list = axes ?? starts?.map((_, i) => i);
        const k = list?.findIndex((a) => (a < 0 ? a + r : a) === s.axis) ?? -1;
        if (!list) throw fail(`"${n.name}" slices with computed axes`);
        if (k < 0) {
          pass();
          break;
        }
        if (!starts || !ends) throw fail(`"${n.name}" slices the class axis at computed positions`);
        const [a, b] = [starts[k]!, ends[k]!];
        const end = b > s.old ? s.old : b < 0 ? b + s.old : b;
        if (a <= s.pre && end >= s.pre + s.block) {
          if (b >= 0 && b <= s.old) setInts(n, 2, ends.map((e, i) => (i === k ? e + delta : e)));
          pass({ ...s, old: end - a, now: end - a + delta, pre: s.pre - a });
        } else if (a >= s.pre + s.block || end <= s.pre) {
          // A slice beside the class block (box channels): the class block is not in it.
        } else throw fail(`"${n.name}" slices part of the class block`);
        break;
      }
      case "Gather": {
        const axis = Number(n.attribute.find((a) => a.name === "axis")?.i ?? 0n);
        const r = shape(n.input[0]!)!.length;
        const ax = axis < 0 ? axis + r : axis;
        if (ax === s.axis) throw fail(`"${n.name}" gathers on the class axis (post-processing that picks classes one by one, e.g. a per-class loop the export unrolled); re-export the model with the dataset's class count`);
        const rankDrop = r - (shape(out0)?.length ?? r);
        pass({ ...s, axis: ax < s.axis ? s.axis - rankDrop : s.axis });
        break;
      }
      case "Shape": case "TopK": case "NonZero": case "Flatten": case "ReduceMax": case "ReduceMin": case "ArgMax": case "GatherND":
        // The class axis is consumed (its size read dynamically, or merged into candidates).
        break;
      default:
        throw fail(`node "${n.name}" (${n.opType}) after the class branch is not one ranksort can rewrite`);
    }
  }

  /** The Reshape's shape entry `j` (literal, or a Concat of one-element pieces) becomes `now`. */
  function rewriteShapeEntry(n: NodeProto, j: number, old: number, now: number): void {
    const target = constantOf(n.input[1]!);
    if (target) {
      if (target[j] === old) setInts(n, 1, target.map((v, i) => (i === j ? now : v)));
      else if (target[j] !== -1 && target[j] !== 0) throw fail(`"${n.name}" reshapes the class axis to ${target[j]}, expected ${old}`);
      return;
    }
    const cat = byOutput.get(n.input[1]!);
    if (cat?.opType !== "Concat") return; // computed from Shape: follows by itself
    let pos = 0;
    for (let i = 0; i < cat.input.length; i++) {
      const piece = constantOf(cat.input[i]!);
      const len = piece?.length ?? shapes.get(cat.input[i]!)?.[0] ?? 1;
      if (j >= pos && j < pos + len) {
        if (piece && piece[j - pos] === old) setInts(cat, i, piece.map((v, q) => (q === j - pos ? now : v)));
        return;
      }
      pos += len;
    }
  }
  // Declared shapes follow the class axis; intermediate ones are re-inferred by the runtime.
  g.valueInfo = g.valueInfo.filter((v) => !tracked.has(v.name));
  for (const v of g.output) {
    const t = tracked.get(v.name);
    const dim = v.type?.value.case === "tensorType" ? v.type.value.value.shape?.dim[t?.axis ?? -1] : undefined;
    if (t && dim?.value.case === "dimValue") dim.value = { case: "dimValue", value: BigInt(t.now) };
  }
  // Constants the rewrite replaced are dropped.
  return pruneToOutputs(model);
}

/** Every value computed (transitively) from `starts`, in graph order. */
export function downstreamValues(g: GraphProto, starts: readonly string[]): string[] {
  const reached = new Set(starts);
  const out: string[] = [];
  for (const n of g.node) {
    if (!n.input.some((i) => reached.has(i))) continue;
    for (const o of n.output) if (o) { reached.add(o); out.push(o); }
  }
  return out;
}
