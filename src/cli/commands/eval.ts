// `ranksort eval`: COCO AP and oLRP of an exported detector on a COCO-format dataset.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DatasetError, loadCoco } from "../../data/coco.ts";
import { ModelFormatError } from "../../onnx/model_codec.ts";
import { loadAdapter } from "../../detect/adapter.ts";
import { evaluateDetector } from "../../detect/evaluate_detector.ts";
import { UsageError } from "../usage_error.ts";

export const evalUsage = `ranksort eval --model m.onnx --preset P --data DIR

COCO AP, AP50, AP75, AP_S/M/L and oLRP of a detector on every image of a COCO-format dataset.`;

export async function evalCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { model: { type: "string" }, preset: { type: "string" }, data: { type: "string" } } });
  for (const k of ["model", "preset", "data"] as const) if (!values[k]) throw new UsageError(`--${k} is required\n\n${evalUsage}`);
  const ds = loadCoco(values.data!);
  if (!ds.samples.some((s) => s.classes.length)) throw new DatasetError(`${values.data}: no image has an annotation; AP and oLRP are undefined without ground truth`);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(values.model!));
  } catch (e) {
    throw new ModelFormatError(`cannot read model ${values.model}: ${(e as Error).message}`);
  }
  const r = await evaluateDetector(bytes, loadAdapter(values.preset!), ds.samples).catch((e: Error) => {
    // The runner sees bytes only; name the file the user gave.
    if (typeof e?.message === "string") e.message = e.message.replaceAll("<bytes>", values.model!);
    throw e;
  });
  console.log(JSON.stringify({ ...r.metrics, oLRP: r.oLRP, images: ds.samples.length, detections: r.detections.length }));
  return 0;
}
