// Bring your own detector: torchvision full exports made the ordinary way (post-processing inside,
// unbatched [3, H, W] input, head tensors internal) and an eval-mode raw-head export with folded BN,
// through the CLI as a user runs it — inspect proposes an adapter, train makes the loss fall, the
// exported file keeps the original's inputs, outputs and node types, its own outputs agree with
// ranksort's evaluation (the drop-in check), and eval scores it. Fixtures: models/export_ordinary.py.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { writeSyntheticDataset } from "../../src/data/synthetic_dataset.ts";
import { readModel } from "../../src/onnx/model_io.ts";
import type { ModelProto } from "../../src/onnx/proto.ts";
import { modelSignature } from "../support/model_signature.ts";

const root = resolve(import.meta.dir, "..", "..");
const fixtures = join(root, "models", "fixtures", "ordinary");
const cli = join(root, "src", "cli", "main.ts");
const bun = process.execPath;
const run = (...args: string[]) => spawnSync(bun, [cli, ...args], { encoding: "utf8" });

/** The drop-in signature plus the opset imports. */
function signature(m: ModelProto) {
  return { ...modelSignature(m), opset: m.opsetImport.map((o) => `${o.domain}:${o.version}`) };
}

describe("ordinary exports: inspect → train → drop-in → eval", () => {
  const dir = mkdtempSync(join(tmpdir(), "ranksort-ordinary-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeSyntheticDataset(join(dir, "data"), { images: 14, size: 128, seed: 11 });
  const cases = [
    { file: "torchvision_retinanet.onnx", preset: "retinanet_resnet50_fpn", dropIn: true },
    { file: "torchvision_fcos.onnx", preset: "fcos_resnet50_fpn", dropIn: true },
    // SSDlite's RS loss moves slowly at this size (its softmax scores start tied); AP50 rising is its signal.
    { file: "torchvision_ssdlite.onnx", preset: "ssdlite320_mobilenet_v3_large", dropIn: true, slow: true },
    { file: "folded_bn_fcos_raw.onnx", preset: undefined, dropIn: false },
  ];
  for (const c of cases) {
    test(`${c.file}: ${c.preset ?? "a draft adapter"} trains, exports a drop-in, evaluates`, () => {
      const model = join(fixtures, c.file);
      const adapter = join(dir, `${c.file}.adapter.json`);
      const inspected = run("inspect", model, "--data", join(dir, "data"), "--out", adapter);
      expect(inspected.status).toBe(0);
      expect(inspected.stdout).toContain(c.preset ? `preset: ${c.preset}` : "preset: none fits");
      const out = join(dir, `run-${c.file}`);
      const trained = run("train", "--model", model, "--preset", adapter, "--data", join(dir, "data"), "--out", out, "--epochs", "slow" in c ? "2" : "3", "--batch", "2", "--optimizer", "adamw", "--lr", "3e-3");
      expect(trained.stderr).not.toContain("    at ");
      expect(trained.status).toBe(0);
      const metrics = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8")) as { epoch: number; loss: number | null; AP50: number }[];
      const last = metrics.at(-1)!;
      expect(metrics.map((m) => m.epoch)).toEqual("slow" in c ? [0, 1, 2] : [0, 1, 2, 3]);
      if ("slow" in c) {
        expect(last.AP50).toBeGreaterThan(metrics[0]!.AP50);
        expect(last.loss!).toBeLessThan(metrics[1]!.loss! + 0.02);
      } else expect(last.loss!).toBeLessThan(metrics[1]!.loss!);
      // The exported file is the user's model with new weights: same inputs, outputs, ops, opset.
      expect(signature(readModel(join(out, "model.onnx")))).toEqual(signature(readModel(model)));
      if (c.dropIn) {
        expect(trained.stdout).toContain("drop-in check: passed");
        const check = JSON.parse(readFileSync(join(out, "dropin.json"), "utf8"));
        expect(check.ok).toBe(true);
        expect(check.agreement).toBeGreaterThanOrEqual(0.9);
      }
      const ev = run("eval", "--model", join(out, "model.onnx"), "--preset", adapter, "--data", join(dir, "data"), "--json");
      expect(ev.status).toBe(0);
      const r = JSON.parse(ev.stdout.trim().split("\n").at(-1)!);
      expect(r.images).toBe(14);
      expect(r.AP50).toBeGreaterThanOrEqual(0);
    }, 240_000);
  }
});
