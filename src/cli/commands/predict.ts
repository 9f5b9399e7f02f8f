// `ranksort predict`: a trained detector on an image or a folder of images.

import { parseArgs } from "node:util";
import { loadAdapter } from "../../detect/adapter.ts";
import { predictFiles, readCategories } from "../../detect/predict_files.ts";
import type { ExecutionProvider } from "../../runtime/session.ts";
import { UsageError } from "../usage_error.ts";
import { num } from "./train.ts";

export const predictUsage = `ranksort predict --model M --preset P IMAGE|DIR [--out DIR] [--score 0.3] [--categories annotations.json] [--backend cpu|wasm|webgpu]

Runs an exported detector (the preset or an adapter JSON maps its outputs; its decode and NMS make
the boxes) on one PNG/JPEG image or every image in DIR, and prints what it found. With --out:
DIR/results.json (COCO results: image_id, category_id, bbox [x, y, w, h], score), DIR/images.json
(image ids → files) and one PNG per image with its boxes and scores drawn. --categories takes a COCO
annotations file for class names and ids (default: class c has id c + 1).`;

export async function predictCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: "string" }, preset: { type: "string" }, out: { type: "string" }, score: { type: "string", default: "0.3" },
      categories: { type: "string" }, backend: { type: "string", default: "cpu" },
    },
  });
  for (const k of ["model", "preset"] as const) if (!values[k]) throw new UsageError(`--${k} is required\n\n${predictUsage}`);
  if (positionals.length !== 1) throw new UsageError(`expected one IMAGE or DIR, got ${positionals.length}\n\n${predictUsage}`);
  const score = num("score", values.score, 0);
  if (score > 1) throw new UsageError(`--score must be within 0…1, got ${values.score}`);
  const categories = values.categories ? readCategories(values.categories) : undefined;
  const t0 = performance.now();
  const r = await predictFiles({
    modelPath: values.model!, adapter: loadAdapter(values.preset!), input: positionals[0]!, outDir: values.out,
    scoreThreshold: score, categories, executionProvider: values.backend as ExecutionProvider,
  });
  const name = (c: number) => categories?.[c]?.name ?? `class ${c}`;
  const shown = 20;
  r.files.slice(0, shown).forEach((f, i) => {
    const dets = r.detections[i]!;
    const list = dets.slice(0, 6).map((d) => `${name(d.classIndex)} ${d.score.toFixed(2)}`).join(", ");
    console.log(`${f}: ${dets.length} detection${dets.length === 1 ? "" : "s"}${list ? ` (${list}${dets.length > 6 ? ", …" : ""})` : ""}`);
  });
  if (r.files.length > shown) console.log(`… and ${r.files.length - shown} more images`);
  const total = r.results.length;
  console.log(`${r.files.length} image${r.files.length === 1 ? "" : "s"}, ${total} detections at score ≥ ${score} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (values.out) console.log(`wrote ${values.out}/results.json (COCO results), images.json and ${r.files.length} PNG${r.files.length === 1 ? "" : "s"} with boxes`);
  return 0;
}
