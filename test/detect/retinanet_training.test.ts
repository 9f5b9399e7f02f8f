// A RetinaNet-style export (9 anchors per location, delta coder, max-IoU assignment) fine-tunes too:
// the training loss falls and AP50 rises above the untrained model's.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { writeSyntheticDataset } from "../../src/data/synthetic_dataset.ts";
import { PRESETS } from "../../src/detect/adapter.ts";
import { trainDetector } from "../../src/detect/detector_training.ts";

describe("fine-tuning a RetinaNet-style export", () => {
  const dir = mkdtempSync(join(tmpdir(), "ranksort-retina-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  test("RS loss with AdamW: loss falls, AP50 rises", async () => {
    writeSyntheticDataset(join(dir, "data"), { images: 80, size: 128, seed: 9 });
    const metrics = await trainDetector({
      modelPath: resolve(import.meta.dir, "..", "..", "models", "tiny_retinanet_128.onnx"),
      adapter: PRESETS["tiny-retinanet"]!,
      dataDir: join(dir, "data"),
      outDir: join(dir, "run"),
      epochs: 4,
      batch: 8,
      lr: 0.002,
      optimizer: "adamw",
      loss: "rs",
      backend: "cpu",
    });
    expect(metrics.map((m) => m.epoch)).toEqual([0, 1, 2, 3, 4]);
    expect(metrics[4]!.loss!).toBeLessThan(metrics[1]!.loss!);
    expect(metrics[4]!.AP50).toBeGreaterThan(metrics[0]!.AP50);
  }, 300_000);
});
