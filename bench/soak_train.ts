// Memory soak of the training run loop: tiny FCOS on 10 synthetic images, 4 steps per epoch, a
// commit (checkpoint, export, precise BN, evaluation) after every epoch, for a few hundred steps;
// prints the resident set size as it goes and the growth from the first epoch to the last.
//   bun bench/soak_train.ts [--steps 300]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeSyntheticDataset } from "../src/data/synthetic_dataset.ts";
import { PRESETS } from "../src/detect/adapter.ts";
import { trainDetector } from "../src/detect/detector_training.ts";

const { values } = parseArgs({ options: { steps: { type: "string", default: "300" } } });
const stepsPerEpoch = 4;
const epochs = Math.max(2, Math.ceil(Number(values.steps) / stepsPerEpoch));
const dir = mkdtempSync(join(tmpdir(), "ranksort-soak-"));
writeSyntheticDataset(join(dir, "data"), { images: 10, size: 128, seed: 3 });
const mib = () => process.memoryUsage().rss / 2 ** 20;
const samples: { step: number; rss: number }[] = [];
const t0 = performance.now();
await trainDetector({
  modelPath: resolve(import.meta.dir, "..", "models", "tiny_fcos_128.onnx"),
  adapter: PRESETS["tiny-fcos"]!,
  dataDir: join(dir, "data"),
  outDir: join(dir, "run"),
  epochs,
  batch: 2,
  lr: 0.005,
  optimizer: "sgd",
  loss: "rs",
  backend: "cpu",
  onProgress: (p) => {
    if (p.step !== p.steps) return;
    const step = p.epoch * p.steps;
    samples.push({ step, rss: mib() });
    if (p.epoch % 5 === 0 || p.epoch === 1) console.log(`step ${String(step).padStart(4)}  epoch ${String(p.epoch).padStart(3)}  RSS ${mib().toFixed(0)} MiB  loss ${p.loss.toFixed(3)}`);
  },
});
rmSync(dir, { recursive: true, force: true });
const first = samples[0]!;
const last = samples.at(-1)!;
const late = samples.slice(Math.floor(samples.length / 2));
console.log(`${last.step} steps, ${epochs} commits in ${((performance.now() - t0) / 1000).toFixed(0)} s: RSS ${first.rss.toFixed(0)} MiB after epoch 1, ${last.rss.toFixed(0)} MiB at the end (max ${Math.max(...samples.map((s) => s.rss)).toFixed(0)}; second half ${Math.min(...late.map((s) => s.rss)).toFixed(0)}–${Math.max(...late.map((s) => s.rss)).toFixed(0)} MiB)`);
