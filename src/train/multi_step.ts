// Several train steps in one session run: the train-step graph becomes the body of an ONNX Loop whose
// loop-carried values are the parameters, optimizer state and BatchNorm buffers, over stacked
// batches and one learning rate per step. Parameters cross between onnxruntime and JS once per run
// instead of once per step — onnxruntime-node copies every output into a fresh JS buffer, which is
// ~15 % of a real detector's step on the CPU. The loop stops after the first step that diverges.

import { attribute, NameAllocator, tensorProto, valueInfo } from "../onnx/builder.ts";
import { clone, create, GraphProtoSchema, type ModelProto, ModelProtoSchema, type NodeProto, NodeProtoSchema, type ValueInfoProto, ValueInfoProtoSchema, TensorShapeProto_DimensionSchema } from "../onnx/proto.ts";
import { LEARNING_RATE, STEP, type TrainStepGraph } from "./train_step.ts";

export interface MultiStepGraph {
  model: ModelProto;
  /** Outer input of each carried value (parameter, optimizer state, buffer), by its name. */
  carriedInputs: Record<string, string>;
  /** Outer output holding each carried value after the run's last step, by its name. */
  carriedOutputs: Record<string, string>;
  /** Outer input of each data input, stacked over the run's steps: [steps, ...dims]. */
  stackedInputs: Record<string, string>;
  /** float32 [steps]: each step's learning rate (its length is the number of steps to run). */
  learningRates: string;
  /** float32 scalar: the step number of the run's first step (1-based, as STEP). */
  firstStep: string;
  /** float32 [steps run]: each step's loss, its non-finite flag (0 or NaN) and each reported scalar. */
  losses: string;
  nonFinite: string;
  report: Record<string, string>;
}

/**
 * The train step `step` as a Loop over steps. A step is kept when its loss is finite and its
 * non-finite flag is 0; the loop ends after the first step that is not, so the per-step outputs
 * are as long as the steps that ran, and the carried outputs hold the last step's values.
 */
export function buildMultiStep(step: TrainStepGraph): MultiStepGraph {
  const body = clone(GraphProtoSchema, step.model.graph!);
  const names = new NameAllocator();
  const seen = new Set<string>();
  const reserve = (n: string) => {
    if (n && !seen.has(n)) {
      seen.add(n);
      names.reserve(n);
    }
  };
  for (const v of [...body.input, ...body.output, ...body.valueInfo]) reserve(v.name);
  for (const t of body.initializer) reserve(t.name);
  for (const n of body.node) for (const o of n.output) reserve(o);
  const nodeNames = new NameAllocator();
  for (const n of body.node) if (n.name) nodeNames.freshNode(n.name);
  const node = (opType: string, input: string[], output: string[], attrs: NodeProto["attribute"] = []) =>
    create(NodeProtoSchema, { opType, name: nodeNames.freshNode(`multi_step_${opType}`), input, output, attribute: attrs });

  const inputType = new Map(body.input.map((v) => [v.name, v]));
  const carried = Object.keys(step.next);
  const carriedInputs = Object.fromEntries(carried.map((c) => [c, names.fresh(`${c}__start`)]));
  const carriedOutputs = Object.fromEntries(carried.map((c) => [c, names.fresh(`${step.next[c]}__end`)]));
  const stackedInputs = Object.fromEntries(step.dataInputs.map((d) => [d, names.fresh(`${d}__steps`)]));
  const learningRates = names.fresh(`${LEARNING_RATE}__steps`);
  const firstStep = names.fresh(`${STEP}__first`);
  const losses = names.fresh(`${step.loss}__steps`);
  const nonFinite = names.fresh(`${step.nonFinite}__steps`);
  const report = Object.fromEntries(Object.entries(step.report).map(([k, v]) => [k, names.fresh(`${v}__steps`)]));

  // The body: this step's batch and learning rate picked from the stacked inputs by the iteration
  // number, the step number counted from the first; then the train step's own nodes, unchanged.
  const iter = names.fresh("step_index");
  const condIn = names.fresh("keep_going_in");
  const front: NodeProto[] = [];
  for (const d of step.dataInputs) front.push(node("Gather", [stackedInputs[d]!, iter], [d], [attribute("axis", 0)]));
  front.push(node("Gather", [learningRates, iter], [LEARNING_RATE], [attribute("axis", 0)]));
  const iterFloat = names.fresh("step_index_float");
  front.push(node("Cast", [iter], [iterFloat], [attribute("to", 1)]));
  front.push(node("Add", [firstStep, iterFloat], [STEP]));
  // Kept: loss·0 + flag == 0 (NaN when the loss is ±∞/NaN or the flag is NaN).
  const zero = names.fresh("zero");
  const lossTimesZero = names.fresh("loss_times_zero");
  const verdict = names.fresh("step_verdict");
  const condOut = names.fresh("keep_going");
  const back = [
    node("Constant", [], [zero], [attribute("value", { kind: "tensor", value: tensorProto(zero, "float32", [0], []) })]),
    node("Mul", [step.loss, zero], [lossTimesZero]),
    node("Add", [lossTimesZero, step.nonFinite], [verdict]),
    node("Equal", [verdict, zero], [condOut]),
  ];
  const stepInputs = new Set([...step.dataInputs, LEARNING_RATE, STEP]);
  const typed = (v: ValueInfoProto | undefined, name: string) => {
    const out = v ? clone(ValueInfoProtoSchema, v) : valueInfo(name, "float32");
    out.name = name;
    return out;
  };
  body.name = "train_step";
  body.node = [...front, ...body.node, ...back];
  body.input = [valueInfo(iter, "int64", []), valueInfo(condIn, "bool", []), ...carried.map((c) => typed(inputType.get(c), c))];
  const scalar = (n: string) => valueInfo(n, "float32", []);
  body.output = [
    valueInfo(condOut, "bool", []),
    ...carried.map((c) => typed(inputType.get(c), step.next[c]!)),
    scalar(step.loss),
    scalar(step.nonFinite),
    ...Object.values(step.report).map(scalar),
  ];
  // Values the body used to take as inputs now come from its front nodes.
  body.valueInfo = body.valueInfo.filter((v) => !stepInputs.has(v.name));

  // The outer graph: the step count from the learning rates' length, and the Loop.
  const count = names.fresh("steps_shape");
  const trip = names.fresh("steps");
  const scalarShape = names.fresh("scalar_shape");
  const always = names.fresh("start");
  const outer = create(GraphProtoSchema, {
    name: `${step.model.graph!.name || "train"}_steps`,
    input: [
      ...carried.map((c) => typed(inputType.get(c), carriedInputs[c]!)),
      ...step.dataInputs.map((d) => stacked(inputType.get(d), stackedInputs[d]!)),
      valueInfo(learningRates, "float32", ["steps"]),
      valueInfo(firstStep, "float32", []),
    ],
    node: [
      node("Shape", [learningRates], [count]),
      node("Constant", [], [scalarShape], [attribute("value", { kind: "tensor", value: tensorProto(scalarShape, "int64", [], [0]) })]),
      node("Reshape", [count, scalarShape], [trip]),
      node("Constant", [], [always], [attribute("value", { kind: "tensor", value: tensorProto(always, "bool", [1], []) })]),
      node("Loop", [trip, always, ...carried.map((c) => carriedInputs[c]!)], [...carried.map((c) => carriedOutputs[c]!), losses, nonFinite, ...Object.values(report)], [
        attribute("body", { kind: "graph", value: body }),
      ]),
    ],
    output: [
      ...carried.map((c) => typed(inputType.get(c), carriedOutputs[c]!)),
      valueInfo(losses, "float32", ["steps_run"]),
      valueInfo(nonFinite, "float32", ["steps_run"]),
      ...Object.values(report).map((r) => valueInfo(r, "float32", ["steps_run"])),
    ],
  });
  const model = create(ModelProtoSchema, { ...step.model, graph: outer });
  return { model, carriedInputs, carriedOutputs, stackedInputs, learningRates, firstStep, losses, nonFinite, report };
}

/** The type of `v` with a leading "steps" dimension. */
function stacked(v: ValueInfoProto | undefined, name: string): ValueInfoProto {
  const t = v?.type?.value.case === "tensorType" ? v.type.value.value : undefined;
  const out = valueInfo(name, "float32", ["steps"]);
  if (!t) return out;
  const tt = out.type!.value.value as typeof t;
  tt.elemType = t.elemType;
  if (t.shape) tt.shape!.dim.push(...t.shape.dim.map((d) => clone(TensorShapeProto_DimensionSchema, d)));
  return out;
}
