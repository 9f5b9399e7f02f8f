// YOLO-style single-output exports (models/export_yolo.py: DFL and exp decode, static batch 1 and
// dynamic, [B, 4+C, N] and [B, N, 4+C]) through the CLI as a user runs them: inspect writes a
// model-native adapter, train makes the RS ranking loss and the GIoU of the model's own boxes fall,
// the exported file keeps the original's inputs, outputs and node types, and its own outputs agree
// with ranksort's evaluation. Class sets: a subset by name and --new-classes on a YOLO-style fixture
// and on torchvision full exports — the exported class dimension is the dataset's and the file runs
// in plain onnxruntime-node. Bad input: one line, exit 2.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as ort from "onnxruntime-node";
import { writeSyntheticDataset } from "../../src/data/synthetic_dataset.ts";
import { readImage } from "../../src/data/image.ts";
import { checkDropIn } from "../../src/detect/dropin_check.ts";
import { PRESETS } from "../../src/detect/presets.ts";
import { encodeModel } from "../../src/onnx/model_codec.ts";
import { GraphBuilder } from "../../src/onnx/builder.ts";
import { readModel, writeModel } from "../../src/onnx/model_io.ts";
import type { ModelProto } from "../../src/onnx/proto.ts";
import { modelSignature } from "../support/model_signature.ts";

const root = resolve(import.meta.dir, "..", "..");
const yolo = join(root, "models", "fixtures", "yolo");
const ordinary = join(root, "models", "fixtures", "ordinary");
const cli = join(root, "src", "cli", "main.ts");
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });

const signature = modelSignature;

/** Output shapes of a model file run in plain onnxruntime-node on a grey image. */
async function plainRun(path: string, dims: number[]): Promise<Record<string, readonly number[]>> {
  const s = await ort.InferenceSession.create(path);
  const n = dims.reduce((a, b) => a * b, 1);
  const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor("float32", new Float32Array(n).fill(0.5), dims) });
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.dims]));
}

/** A copy of a dataset with its categories renamed / restricted (images shared by a link). */
function relabel(src: string, dst: string, keep: Record<number, string>) {
  mkdirSync(dst, { recursive: true });
  symlinkSync(join(src, "images"), join(dst, "images"));
  const d = JSON.parse(readFileSync(join(src, "annotations.json"), "utf8"));
  d.categories = d.categories.filter((c: { id: number }) => c.id in keep).map((c: { id: number }) => ({ id: c.id, name: keep[c.id] }));
  d.annotations = d.annotations.filter((a: { category_id: number }) => a.category_id in keep);
  writeFileSync(join(dst, "annotations.json"), JSON.stringify(d));
}

type Metrics = { epoch: number; loss: number | null; components: Record<string, number>; AP50: number }[];

describe("YOLO-style exports: inspect → train → drop-in", () => {
  const dir = mkdtempSync(join(tmpdir(), "ranksort-yolo-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeSyntheticDataset(join(dir, "data"), { images: 12, size: 128, seed: 11 });
  // COCO names for the 80-class fixture (whose inspected adapter carries COCO's class names).
  relabel(join(dir, "data"), join(dir, "coco"), { 1: "dog", 2: "person", 3: "car" });
  const cases = [
    { file: "yolo_dfl_b1_c3", data: "data", batch: undefined, dfl: 16, layout: "channels-first" },
    { file: "yolo_dfl_dynamic_c80", data: "coco", batch: "2", dfl: 16, layout: "channels-first", subset: true },
    { file: "yolo_exp_dynamic_c3_nlast", data: "data", batch: "2", dfl: undefined, layout: "channels-last" },
    { file: "yolo_exp_b1_c5", data: "data", batch: undefined, dfl: undefined, layout: "channels-first", newClasses: true },
  ];
  for (const c of cases) {
    test(`${c.file}: inspect writes a native adapter that trains; a drop-in${c.subset ? "; COCO subset by name" : ""}${c.newClasses ? "; --new-classes" : ""}`, async () => {
      const model = join(yolo, `${c.file}.onnx`);
      const adapter = join(dir, `${c.file}.json`);
      const inspected = run("inspect", model, "--data", join(dir, c.data), "--out", adapter);
      expect(inspected.status).toBe(0);
      expect(inspected.stdout).toContain("YOLO-style single output");
      expect(inspected.stdout).toContain("stride 8 (16×16) + stride 16 (8×8) + stride 32 (4×4) = 336 locations");
      const a = JSON.parse(readFileSync(adapter, "utf8"));
      expect(a.native).toMatchObject({ output: "output0", layout: c.layout, boxFormat: "cxcywh", strides: [8, 16, 32] });
      expect(a.native.dflBins).toBe(c.dfl);
      const out = join(dir, `run-${c.file}`);
      const trained = run("train", "--model", model, "--preset", adapter, "--data", join(dir, c.data), "--out", out, "--epochs", "3", ...(c.batch ? ["--batch", c.batch] : []), "--optimizer", "adamw", "--lr", "3e-3", ...(c.newClasses ? ["--new-classes"] : []));
      expect(trained.stderr).not.toContain("    at ");
      expect(trained.status).toBe(0);
      const metrics = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8")) as Metrics;
      expect(metrics.map((m) => m.epoch)).toEqual([0, 1, 2, 3]);
      // RS's self-balanced total stays ≈ 2·(ranking + sorting); its ranking part and the GIoU of the
      // model's own boxes are what fall first.
      expect(metrics[3]!.components.ranking!).toBeLessThan(metrics[1]!.components.ranking!);
      expect(metrics[3]!.components.box!).toBeLessThan(metrics[1]!.components.box!);
      expect(trained.stdout).toContain("drop-in check: passed");
      expect(JSON.parse(readFileSync(join(out, "dropin.json"), "utf8")).ok).toBe(true);
      const exported = readModel(join(out, "model.onnx"));
      const run_ = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
      expect(run_.frozen).toBe(c.dfl ? 3 : 2); // anchor points, strides (and the DFL weights) stay fixed
      // The GIoU on the model's own boxes reaches the box branch through its decode (DFL softmax or exp).
      const weights = (m: ModelProto, name: string) => new Float32Array(new Uint8Array(m.graph!.initializer.find((t) => t.name === name)!.rawData).buffer);
      const [w0, w1] = [weights(readModel(model), "box_branch.0.2.weight"), weights(exported, "box_branch.0.2.weight")];
      expect(w1.some((v, i) => v !== w0[i])).toBe(true);
      for (const name of ["anchor_points", "anchor_strides", ...(c.dfl ? ["dfl.weight"] : [])]) expect(weights(exported, name)).toEqual(weights(readModel(model), name));
      // The run's adapter describes the exported model (its class set): eval scores it.
      const ev = run("eval", "--model", join(out, "model.onnx"), "--preset", join(out, "adapter.json"), "--data", join(dir, c.data), "--json");
      expect(ev.status).toBe(0);
      expect(JSON.parse(ev.stdout.trim().split("\n").at(-1)!).images).toBe(12);
      const shapes = await plainRun(join(out, "model.onnx"), [1, 3, 128, 128]);
      expect(shapes.output0).toEqual(c.layout === "channels-first" ? [1, 7, 336] : [1, 336, 7]);
      // The user's file with new weights: same inputs, outputs, node types (class surgery included).
      expect(signature(exported)).toEqual(signature(readModel(model)));
      const bias = (m: ModelProto) => {
        const t = m.graph!.initializer.find((x) => x.name === "cls_branch.0.2.bias")!;
        return Array.from(new Float32Array(new Uint8Array(t.rawData).buffer));
      };
      expect(bias(exported)).toHaveLength(3);
      if (c.subset) {
        // dog, person, car: COCO channels 16, 0, 2 of the original class conv, in the dataset's order
        // (trained a little since: close to where they started).
        const before = bias(readModel(model));
        expect(before).toHaveLength(80);
        bias(exported).forEach((v, i) => expect(Math.abs(v - before[[16, 0, 2][i]!]!)).toBeLessThan(0.1));
      }
    }, 120_000);
  }

  test("5 classes, no class names, a 3-category dataset: refuses without --new-classes", () => {
    const model = join(yolo, "yolo_exp_b1_c5.onnx");
    const adapter = join(dir, "c5.json");
    expect(run("inspect", model, "--out", adapter).status).toBe(0);
    const refused = run("train", "--model", model, "--preset", adapter, "--data", join(dir, "data"), "--out", join(dir, "run-c5"), "--epochs", "1");
    expect(refused.stderr.trim()).toMatch(/the dataset has 3 categories \(square, disc, triangle\) but yolo_exp_b1_c5.onnx .* predicts 5 with no class names: .*--new-classes/);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.status).toBe(2);
  }, 60_000);

  test("80 COCO classes and a dataset outside them: refuses naming both lists", () => {
    const r = run("train", "--model", join(yolo, "yolo_dfl_dynamic_c80.onnx"), "--preset", join(dir, "yolo_dfl_dynamic_c80.json"), "--data", join(dir, "data"), "--out", join(dir, "run-refuse"), "--epochs", "1");
    expect(r.stderr.trim()).toMatch(/the dataset's categories \(square, disc, triangle\) are not all classes of yolo_dfl_dynamic_c80.onnx \(person, bicycle, .*\(80\); missing: square, disc, triangle\): pass --new-classes/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.status).toBe(2);
  }, 60_000);
});

describe("class sets on torchvision full exports", () => {
  const dir = mkdtempSync(join(tmpdir(), "ranksort-classes-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeSyntheticDataset(join(dir, "data"), { images: 10, size: 128, seed: 5 });
  // Two of the three categories, in another order than the model's channels.
  relabel(join(dir, "data"), join(dir, "two"), { 3: "triangle", 1: "square" });
  const cases = [
    { file: "torchvision_retinanet.onnx", preset: "retinanet_resnet50_fpn", names: true, anchors: 9 },
    { file: "torchvision_fcos.onnx", preset: "fcos_resnet50_fpn", names: false, anchors: 1 },
  ];
  for (const c of cases) {
    test(`${c.file}: ${c.names ? "a subset by name" : "--new-classes"} → background + 2 classes, a drop-in`, async () => {
      const adapter = join(dir, `${c.preset}.json`);
      writeFileSync(adapter, JSON.stringify({ ...PRESETS[c.preset], ...(c.names ? { classNames: ["square", "disc", "triangle"] } : {}) }));
      const out = join(dir, `run-${c.file}`);
      const r = run("train", "--model", join(ordinary, c.file), "--preset", adapter, "--data", join(dir, "two"), "--out", out, "--epochs", "1", "--batch", "2", "--optimizer", "adamw", "--lr", "3e-3", ...(c.names ? [] : ["--new-classes"]));
      expect(r.stderr).not.toContain("    at ");
      expect(r.status).toBe(0);
      expect(r.stdout).toContain("drop-in check: passed");
      const m = readModel(join(out, "model.onnx"));
      const w = m.graph!.initializer.find((t) => t.name === "head.classification_head.cls_logits.weight")!;
      expect(Number(w.dims[0])).toBe(c.anchors * 3); // per anchor: torchvision's background + triangle, square
      if (c.names) {
        // Rows kept from the original in the dataset's order: background, triangle (2 → 3), square (0 → 1).
        const orig = readModel(join(ordinary, c.file)).graph!.initializer.find((t) => t.name === "head.classification_head.cls_logits.bias")!;
        const now = m.graph!.initializer.find((t) => t.name === "head.classification_head.cls_logits.bias")!;
        const f = (t: typeof orig) => new Float32Array(new Uint8Array(t.rawData).buffer);
        expect(f(now).length).toBe(27);
        expect(f(now)[1]).not.toBe(f(orig)[1]); // trained
      }
      const shapes = await plainRun(join(out, "model.onnx"), [3, 128, 128]);
      expect(Object.keys(shapes)).toHaveLength(3); // boxes [n, 4], scores [n], labels [n]
      expect(Object.values(shapes).some((d) => d.length === 2 && d[1] === 4)).toBe(true);
      // The rewritten post-processing (TopK over classes, labels = index mod classes) against
      // ranksort's evaluation, with class biases raised so that the model detects plenty.
      const bias = m.graph!.initializer.find((t) => t.name === "head.classification_head.cls_logits.bias")!;
      const raised = new Float32Array(new Uint8Array(bias.rawData).buffer).map((v, i) => (i % 3 === 0 ? v : v + 4)); // not the background label
      bias.rawData = new Uint8Array(raised.buffer);
      const images = ["00001.png", "00002.png", "00003.png"].map((f) => readImage(join(dir, "data", "images", f)));
      const check = await checkDropIn(encodeModel(m), { ...PRESETS[c.preset]!, numClasses: 2 }, images);
      expect(check.modelDetections).toBeGreaterThan(20);
      expect(check.ok).toBe(true);
      expect(check.agreement).toBeGreaterThanOrEqual(0.9);
      expect(check.backgroundDetections).toBe(0);
    }, 120_000);
  }
});

describe("YOLO-style exports: one-line errors", () => {
  const dir = mkdtempSync(join(tmpdir(), "ranksort-yolo-errors-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeSyntheticDataset(join(dir, "data"), { images: 6, size: 128, seed: 2 });
  writeSyntheticDataset(join(dir, "data32"), { images: 6, size: 32, seed: 2 });
  const adapter = (name: string, native: object, extra: object = {}) => {
    const p = join(dir, `${name}.json`);
    writeFileSync(p, JSON.stringify({ name, native: { output: "output0", layout: "channels-first", boxFormat: "cxcywh", strides: [8, 16, 32], ...native }, ...extra }));
    return p;
  };
  // The DFL fixture without its final Sigmoid: the score part holds logits.
  const noSigmoid = join(dir, "no_sigmoid.onnx");
  {
    const m = readModel(join(yolo, "yolo_dfl_b1_c3.onnx"));
    const g = m.graph!;
    const sig = g.node.findLast((n) => n.opType === "Sigmoid")!;
    for (const n of g.node) n.input = n.input.map((i) => (i === sig.output[0] ? sig.input[0]! : i));
    g.node = g.node.filter((n) => n !== sig);
    writeModel(noSigmoid, m);
  }
  // One conv makes box and class channels together: no class branch of its own.
  const shared = join(dir, "shared_conv.onnx");
  {
    const b = new GraphBuilder("shared");
    const x = b.input("images", "float32", [1, 3, 32, 32]);
    const w = b.initializer("head.weight", "float32", new Float32Array(7 * 3 * 9).fill(0.01), [7, 3, 3, 3]);
    const conv = b.op1("Conv", [x, w], { strides: [8, 8], pads: [1, 1, 1, 1] }, { dtype: "float32", name: "head" });
    const flat = b.op1("Reshape", [conv, b.constant("int64", [1, 7, 16], [3])], {}, { dtype: "float32" });
    const [box, cls] = b.op("Split", [flat, b.constant("int64", [4, 3], [2])], { axis: 1 }, { outputs: 2, dtype: "float32" });
    const scores = b.op1("Sigmoid", [cls!], {}, { dtype: "float32" });
    b.output(b.op1("Concat", [box!, scores], { axis: 1 }, { dtype: "float32" }), "output0", "float32", [1, 7, 16]);
    writeModel(shared, b.model());
  }
  const dfl = join(yolo, "yolo_dfl_b1_c3.onnx");
  const cases: [string, string[], RegExp][] = [
    ["an output whose score part is not in [0, 1]", ["--model", noSigmoid, "--preset", adapter("nosig", {})], /the score channels 4…6 of output "output0" hold values in \[-?[\d.e-]+, -?[\d.e-]+\], not \[0, 1\]: native mode needs post-sigmoid class scores/],
    ["N that does not factor into the strides", ["--model", dfl, "--preset", adapter("strides", { strides: [8, 16] })], /output "output0" has N = 336 locations \(layout channels-first\), but strides 8, 16 at 128² give 256 \+ 64 = 320/],
    ["a DFL bin count that does not divide the box channels", ["--model", dfl, "--preset", adapter("bins", { dflBins: 5 })], /native.dflBins 5 does not fit the box branch: conv "[^"]+" has 64 channels, expected 4 sides × 5 bins = 20 \(this model has 16 bins per side\)/],
    ["a class-name list of the wrong length", ["--model", dfl, "--preset", adapter("names", {}, { classNames: ["square", "disc"] })], /"classNames" lists 2 names, but output "output0" has 3 class channels/],
    ["a head-tensor adapter on a YOLO-style output", ["--model", dfl, "--preset", (() => {
      const p = join(dir, "levels.json");
      writeFileSync(p, JSON.stringify({ name: "levels", levels: [{ stride: 8, classes: "output0", boxes: "output0" }], coder: "distance-exp" }));
      return p;
    })()], /tensor "output0" \(level 0\) has rank 3 \(\[1, 7, 336\]\); .* is a YOLO-style export: describe it with a "native" adapter/],
    ["--new-classes without a class branch", ["--model", shared, "--preset", adapter("shared", { strides: [8] }), "--new-classes", "--data", join(dir, "data32")], /the class branch cannot be found: no convolution with 3 output channels \(one per class\) feeds the class logits/],
  ];
  for (const [what, args, message] of cases) {
    test(what, () => {
      const r = run("train", ...args, ...(args.includes("--data") ? [] : ["--data", join(dir, "data")]), "--out", join(dir, "run"), "--epochs", "1");
      expect(r.stderr.trim()).toMatch(message);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.status).toBe(2);
    }, 60_000);
  }
});
