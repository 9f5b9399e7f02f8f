// Split a graph at its com.ranksort nodes for `kernels` mode: the standard nodes fall into stages
// that run as onnxruntime sessions, and our nodes run between stages in a kernel backend.
//
// A node's stage is the number of custom nodes on the longest path from the graph inputs to it, so
// every value a stage consumes exists once the previous stages and custom nodes have run.

import { GraphProtoSchema, ModelProtoSchema, create, type ModelProto, type NodeProto, ValueInfoProtoSchema, type ValueInfoProto } from "../onnx/proto.ts";
import { DOMAIN } from "../ops/domain.ts";

export interface StandardStage {
  kind: "onnx";
  /** A model holding this stage's nodes; its inputs/outputs are named after the original values. */
  model: ModelProto;
  inputs: string[];
  outputs: string[];
  /** Outputs that are constants or shape arithmetic: small, and read on the host by the ops that take them. */
  shapeOutputs: string[];
}

export interface CustomStep {
  kind: "custom";
  node: NodeProto;
}

export type Step = StandardStage | CustomStep;

/** A node our kernel backends run in kernels mode (StopGradient is an identity: its body stays inline). */
export function isCustomNode(node: NodeProto): boolean {
  return node.domain === DOMAIN && node.opType !== "StopGradient";
}

/** Ops that rebuild shape and constant arithmetic (cheap, on small int/float tensors). */
const SHAPE_ARITHMETIC = new Set([
  "Gather", "Concat", "Unsqueeze", "Squeeze", "Slice", "Cast", "Add", "Sub", "Mul", "Div", "Equal", "Greater", "Less",
  "GreaterOrEqual", "LessOrEqual", "Range", "Reshape", "Max", "Min", "ReduceProd", "ReduceSum", "Not", "And", "Or",
  "Identity", "Where", "Neg", "Abs", "Floor", "Ceil",
]);
/** Initializers up to this many elements count as shape constants. */
const SMALL_INITIALIZER = 64;

/**
 * Steps in execution order. Values needed later (or graph outputs) leave each stage as outputs —
 * except constants and shape arithmetic (Constant, Shape/Size of a value the stage has anyway, and
 * cheap ops over those), which each stage that needs them recomputes: a detector's train step
 * otherwise passes hundreds of such scalars between stages, each an output buffer.
 */
export function splitAtCustomNodes(model: ModelProto): Step[] {
  const graph = model.graph!;
  const nodes = graph.node;
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.output.forEach((o) => o && producer.set(o, i)));
  // Stage of each node: custom nodes sit between stage s and s + 1.
  const stage = new Array<number>(nodes.length).fill(0);
  nodes.forEach((n, i) => {
    let s = 0;
    for (const input of n.input) {
      const p = producer.get(input);
      if (p === undefined) continue;
      s = Math.max(s, stage[p]! + (isCustomNode(nodes[p]!) ? 1 : 0));
    }
    stage[i] = s;
  });
  const lastStage = Math.max(0, ...stage.map((s, i) => s + (isCustomNode(nodes[i]!) ? 1 : 0)));
  // Nodes that already wait for a custom node run as late as their consumers allow: the work a
  // custom node's scalar outputs unlock (in a train step, most of the backward) joins the next stage
  // instead of forming its own, which would receive the same activations once more.
  const consumers = new Map<string, number[]>();
  nodes.forEach((n, i) => n.input.forEach((x) => {
    if (!x) return;
    const list = consumers.get(x);
    if (list) list.push(i);
    else consumers.set(x, [i]);
  }));
  const graphOutputs = new Set(graph.output.map((o) => o.name));
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (stage[i] === 0 || isCustomNode(n) || n.output.some((o) => graphOutputs.has(o))) continue;
    let latest = lastStage;
    for (const o of n.output) for (const c of consumers.get(o) ?? []) latest = Math.min(latest, stage[c]!);
    stage[i] = Math.max(stage[i]!, latest);
  }
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const graphInputs = new Set(graph.input.map((v) => v.name));
  const declared = new Map<string, ValueInfoProto>([...graph.input, ...graph.valueInfo, ...graph.output].map((v) => [v.name, v]));

  // Values that are constants or shape arithmetic all the way down (graph-wide, memoised).
  const shapeLike = new Map<string, boolean>();
  const isShapeLike = (v: string): boolean => {
    if (!v) return true;
    let r = shapeLike.get(v);
    if (r !== undefined) return r;
    shapeLike.set(v, false); // cycles cannot occur in a valid graph; this also guards against them
    const init = initializers.get(v);
    const p = producer.get(v);
    if (init) r = init.dims.reduce((a, b) => a * Number(b), 1) <= SMALL_INITIALIZER;
    else if (p === undefined || isCustomNode(nodes[p]!)) r = false;
    else {
      const n = nodes[p]!;
      r = n.opType === "Constant" || n.opType === "Shape" || n.opType === "Size" || (SHAPE_ARITHMETIC.has(n.opType) && n.input.every(isShapeLike));
    }
    shapeLike.set(v, r);
    return r;
  };

  // Members of each stage (node indices), then shape arithmetic its nodes need pulled in.
  const members: Set<number>[] = Array.from({ length: lastStage + 1 }, () => new Set<number>());
  nodes.forEach((n, i) => {
    if (!isCustomNode(n)) members[stage[i]!]!.add(i);
  });
  for (const m of members) {
    const here = new Set([...m].flatMap((i) => nodes[i]!.output));
    const consumed = new Set([...m].flatMap((i) => nodes[i]!.input).filter((x) => x && !here.has(x)));
    const pull = (v: string): boolean => {
      if (here.has(v) || graphInputs.has(v) || initializers.has(v)) return true;
      if (!isShapeLike(v)) return false;
      const p = producer.get(v)!;
      const n = nodes[p]!;
      // Shape/Size only of a value made inside the stage: onnxruntime's Reshape fusion fails on a
      // Reshape whose shape comes from Shape(a graph input) (measured: "Attempting to get index by a
      // name which does not exist").
      const ok = n.opType === "Shape" || n.opType === "Size" ? here.has(n.input[0]!) : n.input.every((x) => !x || pull(x));
      if (!ok) return false;
      m.add(p);
      n.output.forEach((o) => o && here.add(o));
      return true;
    };
    for (const v of [...consumed]) if (isShapeLike(v) && !graphInputs.has(v) && !initializers.has(v)) pull(v);
  }

  // What each stage receives, and what custom nodes consume: the values stages must hand on.
  const stageInputs = members.map((m) => {
    const inside = new Set([...m].flatMap((i) => nodes[i]!.output));
    return new Set([...m].flatMap((i) => nodes[i]!.input).filter((x) => x && !inside.has(x)));
  });
  const customInputs = new Set(nodes.filter(isCustomNode).flatMap((n) => n.input));

  const steps: Step[] = [];
  for (let s = 0; s <= lastStage; s++) {
    const indices = [...members[s]!].sort((a, b) => a - b); // the graph's topological order
    const stageNodes = indices.map((i) => nodes[i]!);
    if (stageNodes.length) {
      const inside = new Set(stageNodes.flatMap((n) => n.output));
      const inputs = [...new Set(stageNodes.flatMap((n) => n.input).filter((x) => x && !inside.has(x) && !initializers.has(x)))];
      // An output: a graph output, or a value a custom node or another stage consumes without making it.
      const neededElsewhere = (v: string) => graphOutputs.has(v) || customInputs.has(v) || stageInputs.some((inputs, t) => t !== s && inputs.has(v));
      const outputs = [...inside].filter((v) => v && neededElsewhere(v));
      const used = new Set(stageNodes.flatMap((n) => n.input));
      const stageGraph = create(GraphProtoSchema, {
        name: `${graph.name}_stage${s}`,
        node: stageNodes,
        input: inputs.map((name) => declared.get(name) ?? create(ValueInfoProtoSchema, { name })),
        output: outputs.map((name) => declared.get(name) ?? create(ValueInfoProtoSchema, { name })),
        initializer: [...initializers.values()].filter((t) => used.has(t.name)),
      });
      steps.push({
        kind: "onnx",
        model: create(ModelProtoSchema, { irVersion: model.irVersion, opsetImport: model.opsetImport, graph: stageGraph, functions: model.functions }),
        inputs,
        outputs,
        shapeOutputs: outputs.filter(isShapeLike),
      });
    }
    nodes.forEach((n, i) => {
      if (stage[i] === s && isCustomNode(n)) steps.push({ kind: "custom", node: n });
    });
  }
  return steps;
}
