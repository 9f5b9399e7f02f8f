// Which initializers stay fixed in training, from patterns: name globs (`*`, `?`), "backbone"
// (initializers named backbone.* or read only by nodes under /backbone/), or "bn" — BatchNorm's own
// parameters and the constants an eval export folded FrozenBN into ([1, C, 1, 1] scales and shifts
// read only by Mul/Add). Folded BN is frozen statistics; training it changes the normalisation.

import type { ModelProto } from "../onnx/proto.ts";

export class FreezeError extends Error {
  override name = "FreezeError";
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
}

/** Initializers of `model` matched by `patterns`; a pattern that matches nothing is an error (a typo would silently train everything). */
export function frozenInitializers(model: ModelProto, patterns: readonly string[]): Set<string> {
  const g = model.graph!;
  const readers = new Map<string, { op: string; node: string }[]>();
  for (const n of g.node) for (const i of n.input) if (i) readers.set(i, [...(readers.get(i) ?? []), { op: n.opType, node: n.name }]);
  const frozen = new Set<string>();
  for (const pattern of patterns) {
    let matched = 0;
    for (const t of g.initializer) {
      const r = readers.get(t.name) ?? [];
      const dims = t.dims.map(Number);
      const hit =
        pattern === "backbone"
          ? t.name.startsWith("backbone.") || (r.length > 0 && r.every((x) => x.node.startsWith("/backbone/")))
          : pattern === "bn"
            ? r.some((x) => x.op === "BatchNormalization") || (dims.length === 4 && dims[0] === 1 && dims[2] === 1 && dims[3] === 1 && r.length > 0 && r.every((x) => x.op === "Mul" || x.op === "Add"))
            : globToRegExp(pattern).test(t.name);
      if (hit) {
        frozen.add(t.name);
        matched++;
      }
    }
    if (!matched) throw new FreezeError(`--freeze ${pattern}: no initializer of the model matches (patterns are name globs, "backbone" or "bn")`);
  }
  return frozen;
}
