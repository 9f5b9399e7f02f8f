// `predict` through the API and the CLI (COCO results, drawn PNGs, summary, clear errors), the
// box drawing, and the train command's options (--seed, --val, --val-fraction, report.html).
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { decodeImage, readImage } from "../../src/data/image.ts";
import { writeSyntheticDataset } from "../../src/data/synthetic_dataset.ts";
import { PRESETS } from "../../src/detect/adapter.ts";
import { CLASS_COLOURS, drawBoxes } from "../../src/detect/draw_boxes.ts";
import { cocoResults, predict } from "../../src/detect/predict.ts";
import { encodeModel } from "../../src/onnx/model_codec.ts";
import { readModel } from "../../src/onnx/model_io.ts";

const root = resolve(import.meta.dir, "..", "..");
const cli = join(root, "bin", "ranksort.mjs");
const model = join(root, "models", "tiny_fcos_128.onnx");
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
const dir = mkdtempSync(join(tmpdir(), "ranksort-predict-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeSyntheticDataset(join(dir, "data"), { images: 12, size: 128, seed: 3 });
const images = join(dir, "data", "images");

describe("drawBoxes", () => {
  test("draws the class colour with a black rim and a white-on-black score label, leaving the input alone", () => {
    const img = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).fill(128) };
    const out = drawBoxes(img, [{ box: [10, 20, 40, 50], classIndex: 1, score: 0.87 }]);
    const px = (x: number, y: number) => Array.from(out.data.subarray(3 * (y * 64 + x), 3 * (y * 64 + x) + 3));
    expect(px(25, 50)).toEqual([...CLASS_COLOURS[1]!]);
    expect(px(25, 51)).toEqual([0, 0, 0]);
    expect(px(25, 49)).toEqual([0, 0, 0]);
    expect(px(30, 35)).toEqual([128, 128, 128]);
    const label = Array.from({ length: 7 * 13 }, (_, i) => px(10 + (i % 13), 13 + Math.floor(i / 13)).join());
    expect(new Set(label)).toEqual(new Set(["0,0,0", "255,255,255"]));
    expect(img.data.every((v) => v === 128)).toBe(true);
  });
});

describe("predict API", () => {
  test("detections in image pixels, above the threshold, best first; COCO results in [x, y, w, h]", async () => {
    const pictures = readdirSync(images).sort().slice(0, 3).map((f) => readImage(join(images, f)));
    const found = await predict(encodeModel(readModel(model)), PRESETS["tiny-fcos"]!, pictures, { scoreThreshold: 0 });
    expect(found).toHaveLength(3);
    for (const dets of found) {
      expect(dets.length).toBeGreaterThan(0);
      for (let i = 1; i < dets.length; i++) expect(dets[i - 1]!.score).toBeGreaterThanOrEqual(dets[i]!.score);
      for (const d of dets) {
        expect(d.box[0]).toBeGreaterThanOrEqual(0);
        expect(d.box[0]).toBeLessThanOrEqual(d.box[2]);
        expect(d.box[2]).toBeLessThanOrEqual(128);
        expect(d.box[3]).toBeLessThanOrEqual(128);
      }
    }
    const high = await predict(encodeModel(readModel(model)), PRESETS["tiny-fcos"]!, pictures, { scoreThreshold: 0.99 });
    expect(high.flat().every((d) => d.score >= 0.99)).toBe(true);
    const results = cocoResults(found, [7, 8, 9], [1, 2, 3]);
    expect(results).toHaveLength(found.flat().length);
    const first = found[0]![0]!;
    expect(results[0]).toEqual({ image_id: 7, category_id: first.classIndex + 1, bbox: [first.box[0], first.box[1], first.box[2] - first.box[0], first.box[3] - first.box[1]].map((v) => Math.round(v * 100) / 100) as never, score: Math.round(first.score * 1e5) / 1e5 });
    await expect(predict(encodeModel(readModel(model)), PRESETS["tiny-fcos"]!, pictures, { scoreThreshold: 2 })).rejects.toThrow("score threshold");
  });
});

describe("ranksort predict", () => {
  test("a folder: results.json, images.json, one drawn PNG per image, and a summary", () => {
    const out = join(dir, "pred");
    const r = run("predict", "--model", model, "--preset", "tiny-fcos", images, "--out", out, "--score", "0", "--categories", join(dir, "data", "annotations.json"));
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/12 images, \d+ detections at score ≥ 0/);
    expect(r.stdout).toMatch(/(square|disc|triangle) 0\.\d\d/);
    const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    expect(results.length).toBeGreaterThan(0);
    expect(new Set(results.map((x: { category_id: number }) => x.category_id)).size).toBeGreaterThan(0);
    for (const x of results) expect([1, 2, 3]).toContain(x.category_id);
    const index = JSON.parse(readFileSync(join(out, "images.json"), "utf8"));
    expect(index.images).toHaveLength(12);
    const drawn = decodeImage(readFileSync(join(out, index.images[0].drawn)));
    const original = readImage(index.images[0].file_name);
    expect([drawn.width, drawn.height]).toEqual([original.width, original.height]);
    expect(drawn.data.some((v, i) => v !== original.data[i])).toBe(true);
  }, 60_000);

  test("one image, no --out: prints, writes nothing", () => {
    const file = join(images, readdirSync(images).sort()[0]!);
    const r = run("predict", "--model", model, "--preset", "tiny-fcos", file, "--score", "0.5");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("1 image,");
  });

  test("bad input: a one-line error and exit 2", () => {
    for (const args of [["--preset", "tiny-fcos", images], ["--model", model, "--preset", "tiny-fcos", join(dir, "missing")], ["--model", model, "--preset", "tiny-fcos", images, "--score", "1.5"], ["--model", model, "--preset", "tiny-fcos", join(dir, "data")]]) {
      const r = run("predict", ...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^ranksort predict: /);
      expect(r.stderr).not.toContain("    at ");
    }
  });
});

describe("ranksort train options", () => {
  test("--val DIR evaluates on a separate set; --seed and the hold-out are recorded; report.html is written", () => {
    writeSyntheticDataset(join(dir, "val"), { images: 6, size: 128, seed: 9 });
    const out = join(dir, "run-val");
    const r = run("train", "--model", model, "--preset", "tiny-fcos", "--data", join(dir, "data"), "--val", join(dir, "val"), "--out", out, "--epochs", "1", "--batch", "6", "--seed", "4");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("oLRP↓");
    expect(existsSync(join(out, "report.html"))).toBe(true);
    const settings = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    expect([settings.val, settings.seed, settings.valFraction]).toEqual([join(dir, "val"), 4, null]);
    const evaluation = JSON.parse(readFileSync(join(out, "evaluation.json"), "utf8"));
    expect(evaluation.validationImageIds).toHaveLength(6);
    expect(readFileSync(join(out, "report.html"), "utf8")).toContain("lower is better");
  }, 60_000);

  test("--val-fraction sets the hold-out; conflicting or bad values are usage errors; presets are listed", () => {
    const out = join(dir, "run-frac");
    const r = run("train", "--model", model, "--preset", "tiny-fcos", "--data", join(dir, "data"), "--out", out, "--epochs", "1", "--batch", "6", "--val-fraction", "0.5");
    expect(r.status).toBe(0);
    expect(JSON.parse(readFileSync(join(out, "evaluation.json"), "utf8")).validationImageIds).toHaveLength(6);
    for (const bad of [["--val-fraction", "1"], ["--val-fraction", "0.3", "--val", join(dir, "val")]]) {
      const e = run("train", "--model", model, "--preset", "tiny-fcos", "--data", join(dir, "data"), "--out", out, ...bad);
      expect(e.status).toBe(2);
      expect(e.stderr).toContain("--val");
    }
    const help = run("train", "--help");
    for (const preset of Object.keys(PRESETS)) expect(help.stdout).toContain(preset);
  }, 60_000);
});

describe("ranksort --version and did-you-mean", () => {
  test("--version prints the package's version", () => {
    const r = run("--version");
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(`ranksort ${JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version}`);
  });

  test("an unknown command or flag names the nearest known one", () => {
    const cmd = run("predcit");
    expect(cmd.status).toBe(2);
    expect(cmd.stderr).toContain('did you mean "predict"?');
    const flag = run("train", "--epoch", "3");
    expect(flag.status).toBe(2);
    expect(flag.stderr.trim()).toBe("ranksort train: unknown option --epoch (did you mean --epochs?); see --help");
    const far = run("loss", "--zzzzzzzz");
    expect(far.status).toBe(2);
    expect(far.stderr).not.toContain("did you mean");
  });
});
