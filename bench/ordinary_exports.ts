// Bring-your-own-detector benchmark: trains torchvision full exports (made the ordinary way) for a few
// epochs on generated data, then prints per model the AP50 of ranksort's evaluation (decode + NMS of
// the head tensors) and the AP50 of the exported model's OWN post-processed outputs on the same
// images. A correct drop-in gives the same numbers (the goal: within 10% relative).
//
//   /usr/bin/python3 models/export_ordinary.py --full-size --out models/exports   # R50 builders
//   bun bench/ordinary_exports.ts [--dir models/exports] [--epochs 4] [--images 64] [--size 128]
// Without --dir it uses the small fixtures in models/fixtures/ordinary.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadCoco } from "../src/data/coco.ts";
import { readImage } from "../src/data/image.ts";
import { writeSyntheticDataset } from "../src/data/synthetic_dataset.ts";
import { split } from "../src/detect/detector_batches.ts";
import { trainDetector } from "../src/detect/detector_training.ts";
import { modelOwnDetections } from "../src/detect/dropin_check.ts";
import { cocoMetrics, type Detection, type GroundTruth } from "../src/detect/evaluate.ts";
import { evaluateDetector } from "../src/detect/evaluate_detector.ts";
import { PRESETS } from "../src/detect/presets.ts";

const root = resolve(import.meta.dir, "..");
const { values } = parseArgs({ options: { dir: { type: "string" }, epochs: { type: "string", default: "4" }, images: { type: "string", default: "64" }, size: { type: "string", default: "128" }, lr: { type: "string", default: "2e-3" } } });
const dir = values.dir ?? join(root, "models", "fixtures", "ordinary");
const work = mkdtempSync(join(tmpdir(), "ranksort-bench-byod-"));
writeSyntheticDataset(join(work, "data"), { images: Number(values.images), size: Number(values.size), seed: 21 });
const dataset = loadCoco(join(work, "data"));
const { val } = split(dataset, 0.2);

const models = [
  ["torchvision_retinanet.onnx", "retinanet_resnet50_fpn"],
  ["torchvision_fcos.onnx", "fcos_resnet50_fpn"],
  ["torchvision_ssdlite.onnx", "ssdlite320_mobilenet_v3_large"],
] as const;
console.log(`models from ${dir}; ${dataset.samples.length} generated images (${val.length} validation), ${values.epochs} epochs, AdamW lr ${values.lr}, batch 4`);
console.log("model                            loss first → last   AP50 ranksort eval   AP50 model's own outputs   relative gap   drop-in agreement");
for (const [file, preset] of models) {
  const path = join(dir, file);
  if (!existsSync(path)) {
    console.log(`${file}: missing (run models/export_ordinary.py)`);
    continue;
  }
  const out = join(work, file);
  let dropIn = "";
  const metrics = await trainDetector({ modelPath: path, adapter: PRESETS[preset]!, dataDir: join(work, "data"), outDir: out, epochs: Number(values.epochs), batch: 4, lr: Number(values.lr), optimizer: "adamw", loss: "rs", backend: "cpu", onDropIn: (c) => (dropIn = `${(100 * c.agreement).toFixed(1)}%`) });
  const model = new Uint8Array(readFileSync(join(out, "model.onnx")));
  const ours = await evaluateDetector(model, PRESETS[preset]!, val);
  const own = await modelOwnDetections(model, PRESETS[preset]!, val.map((s) => readImage(s.path)));
  const gts: GroundTruth[] = [];
  const dets: Detection[] = [];
  val.forEach((s, i) => {
    for (const a of s.annotations) gts.push({ image: s.imageId, category: a.classIndex, box: [a.bbox[0], a.bbox[1], a.bbox[0] + a.bbox[2], a.bbox[1] + a.bbox[3]], bbox: a.bbox, area: a.area, iscrowd: a.iscrowd, ignore: a.ignore });
    for (const d of own.detections[i]!) dets.push({ image: s.imageId, category: d.classIndex, score: d.score, box: d.box });
  });
  const theirs = cocoMetrics(dets, gts, { categories: dataset.categories.map((_, c) => c) });
  const gap = Math.abs(ours.metrics.AP50 - theirs.AP50) / Math.max(ours.metrics.AP50, 1e-9);
  const losses = metrics.filter((m) => m.loss !== null).map((m) => m.loss!);
  console.log(`${file.padEnd(32)} ${losses[0]!.toFixed(3)} → ${losses.at(-1)!.toFixed(3)}      ${ours.metrics.AP50.toFixed(3).padStart(8)}             ${theirs.AP50.toFixed(3).padStart(8)}                 ${(100 * gap).toFixed(1).padStart(5)}%         ${dropIn}`);
}
