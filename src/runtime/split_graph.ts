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

/** Steps in execution order. Values needed later (or graph outputs) leave each stage as outputs. */
export function splitAtCustomNodes(model: ModelProto): Step[] {
  const graph = model.graph!;
  const producer = new Map<string, number>();
  graph.node.forEach((n, i) => n.output.forEach((o) => o && producer.set(o, i)));
  // Stage of each node: custom nodes sit between stage s and s + 1.
  const stage = new Array<number>(graph.node.length).fill(0);
  graph.node.forEach((n, i) => {
    let s = 0;
    for (const input of n.input) {
      const p = producer.get(input);
      if (p === undefined) continue;
      s = Math.max(s, stage[p]! + (isCustomNode(graph.node[p]!) ? 1 : 0));
    }
    stage[i] = s;
  });
  const lastStage = Math.max(0, ...stage.map((s, i) => s + (isCustomNode(graph.node[i]!) ? 1 : 0)));
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const graphOutputs = new Set(graph.output.map((o) => o.name));
  const consumers = new Map<string, number[]>();
  graph.node.forEach((n, i) => n.input.forEach((x) => x && consumers.set(x, [...(consumers.get(x) ?? []), i])));
  const declared = new Map<string, ValueInfoProto>([...graph.input, ...graph.valueInfo, ...graph.output].map((v) => [v.name, v]));

  const steps: Step[] = [];
  for (let s = 0; s <= lastStage; s++) {
    const members = graph.node.map((n, i) => ({ n, i })).filter(({ n, i }) => stage[i] === s && !isCustomNode(n));
    if (members.length) {
      const inside = new Set(members.flatMap(({ n }) => n.output));
      const inputs = [...new Set(members.flatMap(({ n }) => n.input).filter((x) => x && !inside.has(x) && !initializers.has(x)))];
      const outputs = [...inside].filter(
        (v) => v && (graphOutputs.has(v) || (consumers.get(v) ?? []).some((c) => stage[c] !== s || isCustomNode(graph.node[c]!))),
      );
      const used = new Set(members.flatMap(({ n }) => n.input));
      const stageGraph = create(GraphProtoSchema, {
        name: `${graph.name}_stage${s}`,
        node: members.map(({ n }) => n),
        input: inputs.map((name) => declared.get(name) ?? create(ValueInfoProtoSchema, { name })),
        output: outputs.map((name) => declared.get(name) ?? create(ValueInfoProtoSchema, { name })),
        initializer: [...initializers.values()].filter((t) => used.has(t.name)),
      });
      steps.push({
        kind: "onnx",
        model: create(ModelProtoSchema, { irVersion: model.irVersion, opsetImport: model.opsetImport, graph: stageGraph, functions: model.functions }),
        inputs,
        outputs,
      });
    }
    graph.node.forEach((n, i) => {
      if (stage[i] === s && isCustomNode(n)) steps.push({ kind: "custom", node: n });
    });
  }
  return steps;
}
