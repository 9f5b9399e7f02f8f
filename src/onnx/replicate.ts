// Replicating a graph k times over shared initializers: copy 0 keeps every name, copy i renames each
// other value and node with a `__b<i>` suffix. A model exported for one image per run ([3, H, W]
// input, or a static batch) becomes a batch of k runs in one graph — the parameters are read by every
// copy, so the autodiff sums their gradients, exactly as a batch would.

import { clone, type GraphProto, type ModelProto, ModelProtoSchema, type NodeProto } from "./proto.ts";

export interface Replicated {
  model: ModelProto;
  /** The name of `name` in copy `i` (shared initializers keep theirs). */
  nameIn(i: number, name: string): string;
}

export function replicateGraph(source: ModelProto, copies: number): Replicated {
  const model = clone(ModelProtoSchema, source);
  const g = model.graph!;
  const shared = new Set(g.initializer.map((t) => t.name));
  const nameIn = (i: number, name: string) => (i === 0 || !name || shared.has(name) ? name : `${name}__b${i}`);
  if (copies <= 1) return { model, nameIn };
  for (let i = 1; i < copies; i++) {
    const copy = clone(ModelProtoSchema, source).graph!;
    renameGraph(copy, (n) => nameIn(i, n), i);
    g.node.push(...copy.node);
    g.input.push(...copy.input.filter((v) => !shared.has(v.name)));
    g.output.push(...copy.output);
    g.valueInfo.push(...copy.valueInfo);
  }
  return { model, nameIn };
}

function renameGraph(g: GraphProto, rename: (name: string) => string, i: number): void {
  for (const v of [...g.input, ...g.output, ...g.valueInfo]) v.name = rename(v.name);
  for (const n of g.node) renameNode(n, rename, i);
}

function renameNode(n: NodeProto, rename: (name: string) => string, i: number): void {
  n.input = n.input.map(rename);
  n.output = n.output.map(rename);
  if (n.name) n.name = `${n.name}__b${i}`;
  for (const a of n.attribute) {
    for (const sub of [a.g, ...a.graphs]) {
      if (!sub) continue;
      // Subgraph-local initializers stay local; everything else follows the outer renaming.
      const local = new Set(sub.initializer.map((t) => t.name));
      renameGraph(sub, (name) => (local.has(name) ? name : rename(name)), i);
    }
  }
}
