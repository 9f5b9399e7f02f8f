// Bad input for bring-your-own detectors: each gives one line naming the problem and what to do, exit 2.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { writeSyntheticDataset } from "../../src/data/synthetic_dataset.ts";
import { GraphBuilder } from "../../src/onnx/builder.ts";
import { writeModel } from "../../src/onnx/model_io.ts";
import { PRESETS } from "../../src/detect/presets.ts";

const root = resolve(import.meta.dir, "..", "..");
const cli = join(root, "src", "cli", "main.ts");
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });

/** A one-level detector: images → Conv (classes) and Conv (boxes), with a reshaped copy of the class tensor. */
function tinyDetector(path: string, opts: { input?: (number | string)[]; classChannels?: number; boxChannels?: number } = {}) {
  const b = new GraphBuilder("tiny");
  const x = b.input("images", "float32", opts.input ?? ["batch", 3, 32, 32]);
  const conv = (name: string, out: number) => {
    const w = b.initializer(`${name}.weight`, "float32", new Float32Array(out * 3 * 9).fill(0.01), [out, 3, 3, 3]);
    return b.op1("Conv", [x, w], { strides: [8, 8], pads: [1, 1, 1, 1] }, { dtype: "float32", name });
  };
  const cls = conv("cls", opts.classChannels ?? 3);
  const box = conv("box", opts.boxChannels ?? 4);
  b.output(cls, "classes");
  b.output(box, "boxes");
  b.output(b.op1("Flatten", [cls], { axis: 1 }, { dtype: "float32" }), "flat");
  writeModel(path, b.model());
}

describe("bring-your-own detector: one-line errors", () => {
  const dir = mkdtempSync(join(tmpdir(), "ranksort-byod-errors-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeSyntheticDataset(join(dir, "data"), { images: 6, size: 32, seed: 2 });
  const adapter = (name: string, fields: object) => {
    const p = join(dir, `${name}.json`);
    writeFileSync(p, JSON.stringify({ name, levels: [{ stride: 8, classes: "classes", boxes: "boxes" }], coder: "distance-exp", ...fields }));
    return p;
  };
  const model = (name: string, opts: Parameters<typeof tinyDetector>[1]) => {
    const p = join(dir, `${name}.onnx`);
    tinyDetector(p, opts);
    return p;
  };
  const retinanetWrongName = join(dir, "wrong-name.json");
  writeFileSync(retinanetWrongName, JSON.stringify({ ...PRESETS["retinanet_resnet50_fpn"], levels: PRESETS["retinanet_resnet50_fpn"]!.levels.map((l, i) => (i ? l : { ...l, classes: "/head/cls_logits_missing" })) }));
  const cases: [string, string[], RegExp][] = [
    ["a tensor that does not exist (post-processed model)", ["--model", join(root, "models", "fixtures", "ordinary", "torchvision_retinanet.onnx"), "--preset", retinanetWrongName], /tensor "\/head\/cls_logits_missing", which torchvision_retinanet.onnx does not have; this model's outputs .* are post-processed detections: name the head tensors \(see `ranksort inspect/],
    ["the old raw-head preset on a full export", ["--model", join(root, "models", "fixtures", "ordinary", "torchvision_fcos.onnx"), "--preset", "torchvision-fcos"], /expects class logits in tensor "out0".*post-processed detections: name the head tensors/],
    ["a tensor of the wrong rank", ["--model", model("rank", {}), "--preset", adapter("rank", { levels: [{ stride: 8, classes: "flat", boxes: "boxes" }] })], /tensor "flat" \(level 0\) has rank 2 \(\[1, 48\]\); a head tensor is \[B, channels, H, W\]/],
    ["anchors per location disagree", ["--model", model("anchors", { classChannels: 9, boxChannels: 8 }), "--preset", adapter("anchors", { coder: "delta-xywh", ratios: [0.5, 1], anchorScale: 4 })], /anchors per location disagree at level 0: the box tensor has 2 \(8 channels\), but the class tensor's 9 channels are not a multiple of 2/],
    ["a static batch smaller than --batch", ["--model", model("static", { input: [1, 3, 32, 32] }), "--preset", adapter("static", {}), "--batch", "4"], /has a static batch of 1 \(input "images" is \[1, 3, 32, 32\]\), so --batch must be 1; got 4/],
    ["an input that is not an image", ["--model", model("notimage", { input: [1, 10] }), "--preset", adapter("notimage", {})], /input "images" is \[1, 10\] — not an image \(\[3, H, W\] or \[B, 3, H, W\]\)/],
    ["a --freeze pattern that matches nothing", ["--model", model("freeze", {}), "--preset", adapter("freeze", {}), "--freeze", "backbone.nothing*"], /--freeze backbone.nothing\*: no initializer of the model matches/],
  ];
  for (const [what, args, message] of cases) {
    test(what, () => {
      const r = run("train", ...args, "--data", join(dir, "data"), "--out", join(dir, "run"), "--epochs", "1");
      expect(r.stderr.trim()).toMatch(message);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.status).toBe(2);
    }, 60_000);
  }
});
