// Ranks of graph values known before running, where dims are not: propagated from initializers,
// Constant nodes and fixed-rank inputs through the ops that keep (or broadcast) their inputs' rank,
// and through Reshape/Unsqueeze with constant shapes/axes. A rule that needs
// only the rank (Resize's gradient over the last two axes) learns it here.

import type { GraphProto } from "../onnx/proto.ts";

/** Ops whose output has the rank of their first input. */
const SAME_AS_FIRST = new Set([
  "Abs", "BatchNormalization", "Cast", "Ceil", "Clip", "Conv", "ConvTranspose", "AveragePool", "MaxPool", "LpPool",
  "Dropout", "Elu", "Erf", "Exp", "Floor", "Gelu", "HardSigmoid", "HardSwish", "Identity", "InstanceNormalization",
  "LayerNormalization", "GroupNormalization", "LeakyRelu", "Log", "LogSoftmax", "Mish", "Neg", "Pad", "PRelu", "Reciprocal",
  "Relu", "Resize", "Round", "Selu", "Sigmoid", "Sign", "Softmax", "Softplus", "Softsign", "Sqrt", "Tanh", "Concat", "Upsample",
]);
/** Ops whose output has the largest rank of their (broadcast) inputs. */
const BROADCAST = new Set(["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "Equal", "Greater", "Less", "And", "Or"]);

/** A function from value name to its rank, or undefined where it is not known before running. */
export function staticRanks(g: GraphProto): (name: string) => number | undefined {
  const known = new Map<string, number>();
  for (const t of g.initializer) known.set(t.name, t.dims.length);
  for (const v of g.input) {
    const dims = v.type?.value.case === "tensorType" ? v.type.value.value.shape?.dim : undefined;
    if (dims) known.set(v.name, dims.length);
  }
  const producer = new Map(g.node.flatMap((n) => n.output.filter(Boolean).map((o) => [o, n] as const)));
  // Lengths of 1-D constants (Reshape's shape, Unsqueeze's axes): initializers and Constant nodes.
  const constLength = new Map<string, number>();
  for (const t of g.initializer) if (t.dims.length === 1) constLength.set(t.name, Number(t.dims[0]));
  for (const n of g.node) {
    if (n.opType !== "Constant") continue;
    const v = n.attribute.find((a) => a.name === "value")?.t;
    if (v) known.set(n.output[0]!, v.dims.length);
    if (v?.dims.length === 1) constLength.set(n.output[0]!, Number(v.dims[0]));
  }
  const visiting = new Set<string>();
  const rank = (name: string): number | undefined => {
    if (known.has(name)) return known.get(name);
    const node = producer.get(name);
    if (!node || visiting.has(name)) return undefined;
    visiting.add(name);
    let r: number | undefined;
    if (node.output[0] === name && SAME_AS_FIRST.has(node.opType)) r = rank(node.input[0] ?? "");
    else if (node.opType === "Reshape") r = constLength.get(node.input[1] ?? "");
    else if (node.opType === "Unsqueeze") {
      const [base, axes] = [rank(node.input[0] ?? ""), constLength.get(node.input[1] ?? "")];
      r = base !== undefined && axes !== undefined ? base + axes : undefined;
    } else if (node.output[0] === name && BROADCAST.has(node.opType)) {
      const ranks = node.input.filter(Boolean).map(rank);
      r = ranks.every((x) => x !== undefined) ? Math.max(...(ranks as number[])) : undefined;
    }
    visiting.delete(name);
    if (r !== undefined) known.set(name, r);
    return r;
  };
  return rank;
}
