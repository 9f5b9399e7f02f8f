// `ranksort inspect MODEL.onnx [--data DIR] [--out adapter.json]`: what an exported detector is, and a
// draft adapter for it.

import { basename } from "node:path";
import { parseArgs } from "node:util";
import { loadCoco } from "../../data/coco.ts";
import { formatInspection, inspectModel } from "../../detect/inspect_model.ts";
import { readModel } from "../../onnx/model_io.ts";
import { writeFileAtomic } from "../../util/atomic_write.ts";
import { UsageError } from "../usage_error.ts";

export const inspectUsage = `ranksort inspect MODEL.onnx [--data DIR] [--out adapter.json] [--json]

Reads an exported detector and says what it is: the image input (name, shape, static dims), the head
tensors per level (the last convolutions, grouped by feature-map size: classes / boxes / centerness),
where post-processing starts, how BatchNorm was exported, and which preset fits. --out writes a draft
adapter (its "notes" say what to check); --data reconciles the class count with a COCO dataset.
A YOLO-style single output [B, 4+C, N] / [B, N, 4+C] of decoded boxes and sigmoid scores gets a
model-native adapter: box format, score activation, level layout of N, DFL bins.`;

export async function inspectCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { data: { type: "string" }, out: { type: "string" }, json: { type: "boolean", default: false } } });
  if (positionals.length !== 1) throw new UsageError(`expected one model file\n\n${inspectUsage}`);
  const path = positionals[0]!;
  const r = await inspectModel(readModel(path), basename(path), values.data ? loadCoco(values.data) : undefined);
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else console.log(formatInspection(r, path));
  if (values.out) {
    writeFileAtomic(values.out, JSON.stringify(r.adapter, null, 2) + "\n");
    console.log(`wrote ${values.out}${r.preset ? ` (the ${r.preset} preset; --preset ${r.preset} does the same)` : " — check its notes before training"}`);
  }
  return 0;
}
