// Pre-trains the YOLO-style DFL fixture (models/fixtures/yolo/yolo_dfl_b1_c3.onnx, random init) on
// the generated shapes domain (squares, discs, triangles) with ranksort's own training: the starting
// point of the fine-tuning demo (bench/finetune_demo.ts), committed as models/pretrained/.
//
//   bun models/pretrain_yolo.ts [--images 400] [--epochs 10]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeSyntheticDataset } from "../src/data/synthetic_dataset.ts";
import { checkAdapterFields } from "../src/detect/adapter.ts";
import { trainDetector } from "../src/detect/detector_training.ts";
import { writeFileAtomic } from "../src/util/atomic_write.ts";

const root = resolve(import.meta.dir, "..");
const { values } = parseArgs({ options: { images: { type: "string", default: "400" }, epochs: { type: "string", default: "10" } } });
const dir = mkdtempSync(join(tmpdir(), "ranksort-pretrain-"));
try {
  writeSyntheticDataset(join(dir, "data"), { images: Number(values.images), size: 128, seed: 3 });
  const adapter = checkAdapterFields({ name: "yolo-dfl-shapes", native: { output: "output0", layout: "channels-first", boxFormat: "cxcywh", strides: [8, 16, 32], dflBins: 16 }, classNames: ["square", "disc", "triangle"] }, "pretrain");
  const metrics = await trainDetector({
    modelPath: join(root, "models", "fixtures", "yolo", "yolo_dfl_b1_c3.onnx"),
    adapter,
    dataDir: join(dir, "data"),
    outDir: join(dir, "run"),
    epochs: Number(values.epochs),
    lr: 3e-3,
    optimizer: "adamw",
    loss: "rs",
    backend: "cpu",
    onProgress: (p) => p.step === p.steps && console.log(`epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(3)}`),
  });
  for (const m of metrics) console.log(`epoch ${m.epoch}: AP50 ${m.AP50.toFixed(3)} AP ${m.AP.toFixed(3)}`);
  writeFileAtomic(join(root, "models", "pretrained", "yolo_dfl_shapes.onnx"), readFileSync(join(dir, "run", "model.onnx")));
  writeFileAtomic(join(root, "models", "pretrained", "yolo_dfl_shapes.metrics.json"), JSON.stringify(metrics.map((m) => ({ epoch: m.epoch, loss: m.loss, AP50: m.AP50, AP: m.AP })), null, 2) + "\n");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
