// `ranksort demo`: the main job on the bundled defaults — fine-tune the bundled detector
// (models/tiny_fcos_128.onnx) with Rank & Sort loss on the bundled synthetic dataset, print
// metrics per epoch, and leave everything in runs/demo/.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeSyntheticDataset } from "../../data/synthetic_dataset.ts";
import { PRESETS } from "../../detect/adapter.ts";
import { trainDetector } from "../../detect/detector_training.ts";
import type { ExecutionProvider } from "../../runtime/session.ts";
import { reportFor } from "./report.ts";
import { printMetricsTable, progressLine } from "./train.ts";
import { packagePath } from "../../util/package_root.ts";

export const demoTrainUsage = `ranksort demo [--out runs/demo] [--images 400] [--epochs 20] [--backend cpu] [--loss rs|focal]

Fine-tunes the bundled tiny FCOS-style detector with Rank & Sort loss on a bundled synthetic COCO
dataset (generated into OUT/data on first use), evaluating COCO AP and oLRP on held-out images after
every epoch. Results: OUT/metrics.json, OUT/checkpoint.bin, OUT/model.onnx, OUT/report.html.`;

export async function demoTrainCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: "string", default: join("runs", "demo") },
      images: { type: "string", default: "400" },
      epochs: { type: "string", default: "20" },
      backend: { type: "string", default: "cpu" },
      loss: { type: "string", default: "rs" },
    },
  });
  const out = values.out!;
  const data = join(out, "data");
  if (!existsSync(join(data, "annotations.json"))) {
    console.log(`generating ${values.images} synthetic images into ${data} …`);
    writeSyntheticDataset(data, { images: Number(values.images), size: 128, seed: 1 });
  }
  console.log(`fine-tuning models/tiny_fcos_128.onnx with ${values.loss === "focal" ? "Focal + GIoU" : "Rank & Sort"} loss on ${values.backend} …`);
  const t0 = performance.now();
  const tty = process.stderr.isTTY;
  const metrics = await trainDetector({
    modelPath: packagePath("models/tiny_fcos_128.onnx"),
    adapter: PRESETS["tiny-fcos"]!,
    dataDir: data,
    outDir: out,
    epochs: Number(values.epochs),
    batch: 8,
    lr: 0.01,
    optimizer: "sgd",
    loss: values.loss === "focal" ? "focal" : "rs",
    backend: values.backend as ExecutionProvider,
    overwrite: true, // the demo always starts over in runs/demo
    handleSignals: true,
    onProgress: (p) => {
      if (tty) process.stderr.write(`\r${progressLine(p)}`);
      else if (p.step === p.steps) process.stderr.write(`${progressLine(p)}\n`);
    },
  });
  if (tty) process.stderr.write("\n");
  printMetricsTable(metrics);
  const report = reportFor(out);
  console.log(`\n${((performance.now() - t0) / 1000).toFixed(0)} s. Run folder: ${out} (metrics.json, checkpoint.bin, model.onnx); report: ${report}`);
  return 0;
}
