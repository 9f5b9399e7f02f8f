// `ranksort export-op <RankSortLoss|APLoss|ALRPLoss> [--delta D] [--eps E] -o model.onnx`

import { parseArgs } from "node:util";
import { writeModel } from "../../onnx/model_io.ts";
import { type LossOpName, standaloneLossModel } from "../../ops/standalone_model.ts";
import { UsageError } from "../usage_error.ts";

export const exportOpUsage = `ranksort export-op <RankSortLoss|APLoss|ALRPLoss> [--delta D] [--eps E] [--precision float64|float32] -o model.onnx

Writes a standalone ONNX model around one loss op, its function body inside (domain com.ranksort,
version 1), so stock onnxruntime (Python, C++, web, mobile) runs it with no ranksort code.
Inputs: logits, targets (float32 [N]); ALRPLoss also regression_losses (float32 [P]).
Outputs: the losses and grad (the update for unit upstream weights); RankSortLoss also grad_ranking
and grad_sorting; ALRPLoss also rank and order.
--precision float32 writes the body variant for onnxruntime builds without float64 kernels
(onnxruntime-web's WebGPU build); the default float64 body runs everywhere else.`;

const OPS: readonly LossOpName[] = ["RankSortLoss", "APLoss", "ALRPLoss"];

function number(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a finite number >= 0, got ${v}`);
  return n;
}

export async function exportOpCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { delta: { type: "string" }, eps: { type: "string" }, precision: { type: "string", default: "float64" }, output: { type: "string", short: "o" } },
  });
  const op = positionals[0] as LossOpName;
  if (positionals.length !== 1 || !OPS.includes(op)) throw new UsageError(`expected one of ${OPS.join(", ")}\n\n${exportOpUsage}`);
  if (!values.output) throw new UsageError(`-o model.onnx is required\n\n${exportOpUsage}`);
  if (op === "APLoss" && values.eps !== undefined) throw new UsageError("APLoss has no eps attribute");
  const precision = values.precision;
  if (precision !== "float64" && precision !== "float32") throw new UsageError(`--precision must be float64 or float32, got ${precision}`);
  const model = standaloneLossModel(op, { delta: number("delta", values.delta), eps: number("eps", values.eps), precision });
  writeModel(values.output, model);
  console.log(`wrote ${values.output}: ${op}${values.delta ? ` delta=${values.delta}` : ""}${values.eps ? ` eps=${values.eps}` : ""}`);
  return 0;
}
