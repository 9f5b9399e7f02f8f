// `ranksort eval`: COCO AP and oLRP of an exported detector on a COCO-format dataset.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadCoco } from "../../data/coco.ts";
import { loadAdapter } from "../../detect/adapter.ts";
import { evaluateDetector } from "../../detect/evaluate_detector.ts";
import { UsageError } from "../usage_error.ts";

export const evalUsage = `ranksort eval --model m.onnx --preset P --data DIR

COCO AP, AP50, AP75, AP_S/M/L and oLRP of a detector on every image of a COCO-format dataset.`;

export async function evalCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { model: { type: "string" }, preset: { type: "string" }, data: { type: "string" } } });
  for (const k of ["model", "preset", "data"] as const) if (!values[k]) throw new UsageError(`--${k} is required\n\n${evalUsage}`);
  const ds = loadCoco(values.data!);
  const r = await evaluateDetector(new Uint8Array(readFileSync(values.model!)), loadAdapter(values.preset!), ds.samples);
  console.log(JSON.stringify({ ...r.metrics, oLRP: r.oLRP, images: ds.samples.length, detections: r.detections.length }));
  return 0;
}
