// The no-positive rule as an ONNX If: with positives, the loss branch; without, zeros — what the
// official detection heads return instead of calling the loss (whose min() would fail).

import { type FunctionBuilder, type GraphBuilder, graphAttr, type DTypeName, type Value } from "../../onnx/builder.ts";
import { TensorOps } from "../../onnx/tensor_ops.ts";
import type { BodyInputs } from "./ranking_terms.ts";

export interface BranchOutput {
  name: string;
  dtype: DTypeName;
  /** What the output is when there is no positive. */
  empty: "scalar-zero" | "zeros-like-logits" | "empty-float" | "empty-int64";
}

/** Emit If(P > 0, build(branch), zeros) and expose its outputs as the function's outputs. */
export function ifPositives(
  f: FunctionBuilder,
  inputs: BodyInputs,
  outputs: readonly BranchOutput[],
  build: (g: GraphBuilder) => Value[],
): void {
  const then = f.subgraph(`${f.name}_with_positives`);
  const results = build(then);
  results.forEach((v, i) => then.outputFresh(v, `${outputs[i]!.name}_then`, outputs[i]!.dtype));
  const otherwise = f.subgraph(`${f.name}_without_positives`);
  const t = new TensorOps(otherwise);
  for (const o of outputs) {
    const v =
      o.empty === "scalar-zero" ? t.scalar(o.dtype, 0)
      : o.empty === "zeros-like-logits" ? t.zeros(t.shape(inputs.logits), o.dtype)
      : otherwise.constant(o.empty === "empty-int64" ? "int64" : "float32", [], [0]);
    otherwise.outputFresh(v, `${o.name}_else`, o.dtype);
  }
  const out = f.op("If", [inputs.hasPositives], { then_branch: graphAttr(then.graph()), else_branch: graphAttr(otherwise.graph()) }, {
    outputs: outputs.map((o) => `${o.name}_if`),
  });
  out.forEach((v, i) => f.output(v, outputs[i]!.name));
}
