// Common subexpression elimination: a node that computes the same op, with the same attributes, on
// the same inputs as an earlier node is dropped and its outputs read from that node. One pass in
// node order settles whole duplicated chains (inputs are renamed before a node is compared), where
// onnxruntime's own pass merges one link per optimizer round (a train graph of two image copies
// holds 13-long duplicated shape chains).

import { AttributeProtoSchema, type GraphProto, type NodeProto, TensorProtoSchema, toBinary } from "./proto.ts";

/** Ops whose every run draws new values: two of them are not the same value. */
const NONDETERMINISTIC = new Set(["RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout"]);

/** Attributes past this many serialized bytes (large constants) are not compared: such nodes stay. */
const MAX_KEY_BYTES = 1 << 12;

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

function attributeKey(n: NodeProto): string | undefined {
  let key = "";
  for (const a of [...n.attribute].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))) {
    // A tensor's own name is not part of its value (two Constants of the same value are one).
    const bytes = toBinary(AttributeProtoSchema, a.t?.name ? { ...a, t: { ...a.t, name: "" } } : a);
    if (bytes.length > MAX_KEY_BYTES) return undefined;
    key += `${a.name}:${hex(bytes)};`;
  }
  return key;
}

/** Renames the outer values a subgraph reads (those it does not define itself). */
function renameInSubgraph(g: GraphProto, rename: ReadonlyMap<string, string>): void {
  const local = new Set([...g.input.map((v) => v.name), ...g.initializer.map((t) => t.name), ...g.node.flatMap((n) => n.output)]);
  const outer = (name: string) => (local.has(name) ? name : (rename.get(name) ?? name));
  for (const n of g.node) {
    n.input = n.input.map(outer);
    for (const a of n.attribute) for (const sub of [...(a.g ? [a.g] : []), ...a.graphs]) renameInSubgraph(sub, new Map([...rename].filter(([k]) => !local.has(k))));
  }
  for (const o of g.output) o.name = outer(o.name);
}

/**
 * Merges repeated computations of `g` in place (and repeated small initializers); returns how many
 * nodes and initializers it removed. Nodes that make a graph output keep their names;
 * nondeterministic ops and nodes holding subgraphs are kept as they are (the values their
 * subgraphs read from outside are renamed).
 */
export function eliminateCommonSubexpressions(g: GraphProto): number {
  const graphOutputs = new Set(g.output.map((v) => v.name));
  const rename = new Map<string, string>();
  // Small initializers of equal type, dims and data are one value (exports repeat constants like [0]).
  const inputs = new Set(g.input.map((v) => v.name));
  const firstTensor = new Map<string, string>();
  const initializers = g.initializer.length;
  g.initializer = g.initializer.filter((t) => {
    if (inputs.has(t.name) || graphOutputs.has(t.name)) return true;
    const bytes = toBinary(TensorProtoSchema, { ...t, name: "" });
    if (bytes.length > MAX_KEY_BYTES) return true;
    const key = hex(bytes);
    const earlier = firstTensor.get(key);
    if (earlier === undefined) {
      firstTensor.set(key, t.name);
      return true;
    }
    rename.set(t.name, earlier);
    return false;
  });
  const first = new Map<string, NodeProto>();
  const kept: NodeProto[] = [];
  for (const n of g.node) {
    n.input = n.input.map((i) => rename.get(i) ?? i);
    const subgraphs = n.attribute.flatMap((a) => [...(a.g ? [a.g] : []), ...a.graphs]);
    for (const sub of subgraphs) renameInSubgraph(sub, rename);
    const attrs = subgraphs.length || NONDETERMINISTIC.has(n.opType) || !n.output.length || n.output.some((o) => graphOutputs.has(o)) ? undefined : attributeKey(n);
    if (attrs === undefined) {
      kept.push(n);
      continue;
    }
    // Which outputs are used matters too (a node asking for an optional output is another node).
    const key = `${n.domain}\u0000${n.opType}\u0000${attrs}\u0000${n.input.join("\u0001")}\u0000${n.output.map((o) => (o ? 1 : 0)).join("")}`;
    const earlier = first.get(key);
    if (!earlier) {
      first.set(key, n);
      kept.push(n);
      continue;
    }
    n.output.forEach((o, k) => {
      if (o) rename.set(o, earlier.output[k]!);
    });
  }
  const removed = g.node.length - kept.length + initializers - g.initializer.length;
  g.node = kept;
  if (removed) g.valueInfo = g.valueInfo.filter((v) => !rename.has(v.name));
  return removed;
}
