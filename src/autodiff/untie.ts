// Untying initializers that an exporter merged only because their values were equal.
//
// torch.onnx's EVAL export deduplicates equal initializers (zero biases, GroupNorm γ, per-level
// scales): one initializer stays, and each duplicate becomes an Identity of it. Trained jointly,
// those distinct parameters would be forced to stay equal — a different model. Untying replaces each
// such Identity (chain) with its own copy of the data under the Identity's output name. Initializers
// consumed directly by several nodes are real sharing (FCOS/RetinaNet heads reuse one conv across
// FPN levels) and stay shared.

import { clone, type ModelProto, ModelProtoSchema, TensorProtoSchema } from "../onnx/proto.ts";

export interface Untied {
  model: ModelProto;
  /** New parameter name → the initializer it was tied to. */
  untied: Record<string, string>;
}

export function untieExportTies(source: ModelProto): Untied {
  const model = clone(ModelProtoSchema, source);
  const g = model.graph!;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const outputs = new Set(g.output.map((o) => o.name));
  const untied: Record<string, string> = {};
  let changed = true;
  while (changed) {
    changed = false;
    g.node = g.node.filter((n) => {
      if (n.opType !== "Identity" || (n.domain && n.domain !== "ai.onnx")) return true;
      const src = inits.get(n.input[0] ?? "");
      const out = n.output[0];
      if (!src || !out || outputs.has(out) || inits.has(out)) return true;
      const copy = clone(TensorProtoSchema, src);
      copy.name = out;
      g.initializer.push(copy);
      inits.set(out, copy);
      untied[out] = untied[src.name] ?? src.name;
      changed = true;
      return false;
    });
  }
  return { model, untied };
}
