// Every bad input is one line `ranksort <command>: …` naming the problem, exit 2, no stack trace
// (RANKSORT_DEBUG=1 adds it); internal errors exit 1 asking for a report. One row per input.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { reportError } from "../src/cli/error_report.ts";
import { writeSyntheticDataset } from "../src/data/synthetic_dataset.ts";
import { decodeModel, encodeModel } from "../src/onnx/model_codec.ts";
import { errorLines, ranksort, tinyModel } from "./support/train_run.ts";

const dir = mkdtempSync(join(tmpdir(), "ranksort-cli-errors-"));
const base = join(dir, "base");
type Coco = { images: { id: number; file_name?: string; width: number; height: number }[]; annotations: { id: number; image_id: number; category_id: number; bbox?: number[] }[]; categories: { id: number; name: string }[] };

/** A copy of the base dataset with its annotations edited. */
function dataset(name: string, edit: (c: Coco) => void): string {
  const out = join(dir, name);
  cpSync(base, out, { recursive: true });
  const c = JSON.parse(readFileSync(join(out, "annotations.json"), "utf8")) as Coco;
  edit(c);
  writeFileSync(join(out, "annotations.json"), JSON.stringify(c));
  return out;
}

const train = (data: string, ...more: string[]) => ["train", "--model", tinyModel, "--preset", "tiny-fcos", "--data", data, "--out", join(dir, `run-${Math.random().toString(36).slice(2)}`), "--epochs", "1", ...more];

beforeAll(() => {
  writeSyntheticDataset(base, { images: 4, size: 128, seed: 2 });
  // A model whose first parameter is NaN.
  const m = decodeModel(readFileSync(tinyModel));
  const init = m.graph!.initializer.find((t) => t.dataType === 1 && t.rawData.length)!;
  const raw = new Uint8Array(init.rawData);
  new DataView(raw.buffer).setFloat32(0, NaN, true);
  init.rawData = raw;
  writeFileSync(join(dir, "nan.onnx"), encodeModel(m));
  writeFileSync(join(dir, "truncated.onnx"), readFileSync(tinyModel).subarray(0, 1000));
  writeFileSync(join(dir, "a-file"), "x");
  writeFileSync(join(dir, "tiny-delta.json"), JSON.stringify({ loss: "rank_sort", params: { delta_RS: 1e-310 }, logits: [1, 0], targets: [0.5, 0] }));
  mkdirSync(join(dir, "report-run"));
  writeFileSync(join(dir, "report-run", "metrics.json"), "[]");
  writeFileSync(join(dir, "report-run", "run.json"), JSON.stringify({ data: base }));
  writeFileSync(join(dir, "report-run", "evaluation.json"), '{"detections": [');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("one-line errors", () => {
  const rows: [string, () => string[], RegExp][] = [
    ["annotation without bbox", () => train(dataset("no-bbox", (c) => delete c.annotations[0]!.bbox)), /annotations\.json: annotation \d+ has no "bbox" \(expected \[x, y, width, height\]\)$/],
    ["image without file_name", () => train(dataset("no-file", (c) => delete c.images[1]!.file_name)), /annotations\.json: image \d+ has no "file_name"$/],
    ["empty dataset", () => train(dataset("empty", (c) => ((c.images = []), (c.annotations = [])))), /annotations\.json: no images$/],
    ["one-image dataset", () => train(dataset("one", (c) => ((c.images = c.images.slice(0, 1)), (c.annotations = c.annotations.filter((a) => a.image_id === c.images[0]!.id))))), /has 1 image; training needs at least 2 \(the last 1 is held out for evaluation\)$/],
    ["duplicate image ids", () => train(dataset("dup-image", (c) => (c.images[1]!.id = c.images[0]!.id))), /image id \d+ appears twice \(images 0 and 1\); annotations could not tell them apart$/],
    ["duplicate category ids", () => train(dataset("dup-cat", (c) => (c.categories[1]!.id = c.categories[0]!.id))), /category id 1 appears twice \(categories 0 and 1\)$/],
    ["file_name outside images/", () => train(dataset("escape", (c) => (c.images[0]!.file_name = "../annotations.json"))), /image \d+ file_name "\.\.\/annotations\.json" points outside .*images$/],
    ["image size differs from the JSON", () => train(dataset("size", (c) => (c.images[2]!.width = 200))), /image \d+ \(.*\.png\) is 128×128, but the annotations say 200×128$/],
    ["zero annotations", () => train(dataset("no-annotations", (c) => (c.annotations = []))), /none of the 3 training images has an annotation: nothing to learn$/],
    ["eval: zero annotations", () => ["eval", "--model", tinyModel, "--preset", "tiny-fcos", "--data", dataset("no-annotations-eval", (c) => (c.annotations = []))], /no image has an annotation; AP and oLRP are undefined/],
    ["eval: missing model", () => ["eval", "--model", join(dir, "missing.onnx"), "--preset", "tiny-fcos", "--data", base], /^ranksort eval: .*missing\.onnx.*(no such file|ENOENT)/],
    ["eval: truncated model named by path", () => ["eval", "--model", join(dir, "truncated.onnx"), "--preset", "tiny-fcos", "--data", base], /^ranksort eval: .*truncated\.onnx: not a valid ONNX model/],
    ["a NaN in the model", () => train(base).map((a) => (a === tinyModel ? join(dir, "nan.onnx") : a)), /the model's parameter ".*" holds NaN at index 0 \(the model file itself is not finite\)$/],
    ["--lr empty", () => train(base, "--lr", ""), /^ranksort train: --lr needs a value \(a number >= 0\)$/],
    ["--lr negative", () => train(base, "--lr", "-1"), /^ranksort train: --lr must be a number >= 0, got -1$/],
    ["--batch 0", () => train(base, "--batch", "0"), /^ranksort train: --batch must be an integer >= 1, got 0$/],
    ["--steps-per-run 0", () => train(base, "--steps-per-run", "0"), /^ranksort train: --steps-per-run must be an integer >= 1, got 0$/],
    ["--steps-per-run with native loss kernels", () => train(base, "--steps-per-run", "4", "--loss-kernels", "cpu"), /^ranksort train: --steps-per-run 4: the native loss kernels \(--loss-kernels cpu\) run between session runs, one step each; use --steps-per-run 1 or --loss-kernels body$/],
    ["--out is a file", () => ["train", "--model", tinyModel, "--preset", "tiny-fcos", "--data", base, "--out", join(dir, "a-file", "run")], /^ranksort train: cannot write .*a-file\/run: a part of the path is a file, not a folder/],
    ["--resume without --out", () => ["train", "--model", tinyModel, "--preset", "tiny-fcos", "--data", base, "--resume"], /^ranksort train: --resume needs --out RUN/],
    ["--accept-change of a fixed field", () => train(base, "--resume", "--accept-change", "batch"), /--accept-change: batch cannot be accepted; one of epochs, lr, data, model$/],
    ["unknown flag", () => train(base, "--lr-max", "3"), /^ranksort train: unknown option --lr-max/i],
    ["loss: δ below the float32 minimum", () => ["loss", join(dir, "tiny-delta.json")], /delta must be 0 or >= 1\.175e-38 \(2\^-126\), got 1e-310$/],
    ["report: damaged evaluation.json", () => ["report", join(dir, "report-run")], /^ranksort report: .*evaluation\.json is damaged/],
  ];
  for (const [name, argv, message] of rows) {
    test(name, () => {
      const r = ranksort(argv());
      expect({ status: r.status, errors: errorLines(r.stderr) }).toEqual({ status: 2, errors: [expect.stringMatching(message)] });
      expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
    });
  }

  test("a refused run without --out leaves no runs/ folder behind (nor an existing one's new entry)", () => {
    const cwd = join(dir, "cwd-fresh");
    mkdirSync(cwd);
    const r = ranksort(["train", "--model", join(dir, "missing.onnx"), "--preset", "tiny-fcos", "--data", base, "--epochs", "1"], { cwd });
    expect(r.status).toBe(2);
    expect(readdirSync(cwd)).toEqual([]);
    mkdirSync(join(cwd, "runs", "train"), { recursive: true });
    expect(ranksort(["train", "--model", join(dir, "missing.onnx"), "--preset", "tiny-fcos", "--data", base, "--epochs", "1"], { cwd }).status).toBe(2);
    expect(readdirSync(join(cwd, "runs"))).toEqual(["train"]);
  });

  test("RANKSORT_DEBUG=1 adds the stack", () => {
    const r = ranksort(train(base, "--lr", ""), { env: { RANKSORT_DEBUG: "1" } });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^\s+at /m);
  });

  test("an unexpected error is an internal error: exit 1, one line, a request to report it", () => {
    const r = reportError("train", new TypeError("x is undefined"), false);
    expect(r).toEqual({ exitCode: 1, text: expect.stringMatching(/^ranksort train: internal error: x is undefined — this is a bug in ranksort; please report it/) });
    expect(r.text.split("\n")).toHaveLength(1);
    const os = reportError("train", Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", syscall: "write", path: "/x/y" }), false);
    expect(os).toEqual({ exitCode: 2, text: "ranksort train: cannot write /x/y: no space left on the device (ENOSPC)" });
  });
});
