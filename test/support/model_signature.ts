// What a drop-in export must keep of the user's model: its inputs (names and types), outputs and op
// counts. Identity ties the exporter made between equal initializers become initializers of their
// own, so Identity nodes are not counted.
import type { ModelProto } from "../../src/onnx/proto.ts";

export function modelSignature(m: ModelProto) {
  const g = m.graph!;
  const inits = new Set(g.initializer.map((t) => t.name));
  const ops = g.node.map((n) => n.opType).filter((o) => o !== "Identity").sort();
  return {
    inputs: g.input.filter((v) => !inits.has(v.name)).map((v) => JSON.stringify([v.name, v.type], (_, x) => (typeof x === "bigint" ? Number(x) : x))),
    outputs: g.output.map((v) => v.name),
    ops: Object.fromEntries([...new Set(ops)].map((o) => [o, ops.filter((x) => x === o).length])),
  };
}
