// Cutting a graph at named values: those values become the graph's outputs and everything that no
// longer contributes to an output — post-processing, unused initializers and inputs — is dropped.
// A detector's head tensors are usually internal (the graph goes on to decode, TopK and NMS): the
// train step and the evaluation copy both start from this cut, while the user's file stays whole.

import { clone, type GraphProto, type ModelProto, ModelProtoSchema, type NodeProto } from "./proto.ts";
import { valueInfo } from "./builder.ts";

export class CutError extends Error {
  override name = "CutError";
}

/** Names a node reads, including outer-scope names its subgraphs (If/Loop/Scan bodies) read. */
export function nodeReads(node: NodeProto): string[] {
  const reads = node.input.filter((x) => x);
  for (const a of node.attribute) {
    for (const g of [a.g, ...a.graphs]) if (g) reads.push(...graphFreeNames(g));
  }
  return reads;
}

/** Names a subgraph reads from its enclosing scope. */
function graphFreeNames(g: GraphProto): string[] {
  const local = new Set<string>([...g.input.map((v) => v.name), ...g.initializer.map((t) => t.name)]);
  const free: string[] = [];
  for (const n of g.node) {
    for (const r of nodeReads(n)) if (!local.has(r)) free.push(r);
    for (const o of n.output) if (o) local.add(o);
  }
  return free;
}

/** Every value name a graph defines: inputs, initializers and node outputs. */
export function definedValues(g: GraphProto): Set<string> {
  const names = new Set<string>([...g.input.map((v) => v.name), ...g.initializer.map((t) => t.name)]);
  for (const n of g.node) for (const o of n.output) if (o) names.add(o);
  return names;
}

/** Keep only what the graph's outputs need (in place on a copy): nodes, initializers, inputs. */
export function pruneToOutputs(source: ModelProto): ModelProto {
  const model = clone(ModelProtoSchema, source);
  const g = model.graph!;
  const needed = new Set(g.output.map((o) => o.name));
  const keep: NodeProto[] = [];
  for (let i = g.node.length - 1; i >= 0; i--) {
    const n = g.node[i]!;
    if (!n.output.some((o) => o && needed.has(o))) continue;
    keep.push(n);
    for (const r of nodeReads(n)) needed.add(r);
  }
  g.node = keep.reverse();
  g.initializer = g.initializer.filter((t) => needed.has(t.name));
  g.input = g.input.filter((v) => needed.has(v.name));
  g.valueInfo = g.valueInfo.filter((v) => needed.has(v.name));
  return model;
}

/**
 * The graph with `values` as its outputs (in that order) and nothing that does not feed them.
 * Types come from the graph's value_info or outputs where known.
 */
export function cutAtValues(source: ModelProto, values: readonly string[]): ModelProto {
  const model = clone(ModelProtoSchema, source);
  const g = model.graph!;
  const defined = definedValues(g);
  for (const v of values) {
    if (!defined.has(v)) throw new CutError(`the model has no tensor "${v}"${suggest(v, defined)}`);
  }
  const known = new Map([...g.valueInfo, ...g.output].map((v) => [v.name, v]));
  g.output = values.map((v) => known.get(v) ?? valueInfo(v));
  return pruneToOutputs(model);
}

function suggest(name: string, defined: Set<string>): string {
  const close = [...defined].filter((d) => d.includes(name) || (name.length > 6 && d.includes(name.slice(0, Math.floor(name.length * 0.6)))));
  return close.length ? ` (similar: ${close.slice(0, 3).map((c) => `"${c}"`).join(", ")})` : " (see `ranksort inspect MODEL` for the head tensors)";
}
