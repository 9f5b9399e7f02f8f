// `ranksort train` on a small synthetic set: metrics per epoch (epoch 0 = before training), a
// checkpoint, an exported model; --resume continues; `ranksort eval` scores the result.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { writeSyntheticDataset } from "../../src/data/synthetic_dataset.ts";

const root = resolve(import.meta.dir, "..", "..");
const cli = join(root, "bin", "ranksort.mjs");
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });

describe("ranksort train / eval", () => {
  const dir = mkdtempSync(join(tmpdir(), "ranksort-train-cli-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("trains, writes metrics/checkpoint/model, resumes, evaluates", () => {
    writeSyntheticDataset(join(dir, "data"), { images: 30, size: 128, seed: 5 });
    const base = ["--model", join(root, "models", "tiny_fcos_128.onnx"), "--preset", "tiny-fcos", "--data", join(dir, "data"), "--out", join(dir, "run"), "--batch", "6"];
    const first = run("train", ...base, "--epochs", "1");
    expect(first.status).toBe(0);
    let metrics = JSON.parse(readFileSync(join(dir, "run", "metrics.json"), "utf8"));
    expect(metrics.map((m: { epoch: number }) => m.epoch)).toEqual([0, 1]);
    for (const key of ["AP", "AP50", "AP75", "APs", "APm", "APl", "oLRP", "imagesPerSecond"]) expect(typeof metrics[1][key]).toBe("number");
    expect(Object.keys(metrics[1].components).sort()).toEqual(["box", "lambda", "ranking", "sorting"]);
    expect(existsSync(join(dir, "run", "checkpoint.bin"))).toBe(true);
    const resumed = run("train", ...base, "--epochs", "2", "--resume", "--accept-change", "epochs");
    expect(resumed.status).toBe(0);
    metrics = JSON.parse(readFileSync(join(dir, "run", "metrics.json"), "utf8"));
    expect(metrics.map((m: { epoch: number }) => m.epoch)).toEqual([0, 1, 2]);
    const ev = run("eval", "--model", join(dir, "run", "model.onnx"), "--preset", "tiny-fcos", "--data", join(dir, "data"), "--json");
    expect(ev.status).toBe(0);
    const r = JSON.parse(ev.stdout.trim().split("\n").at(-1)!);
    expect(r.images).toBe(30);
    expect(r.AP50).toBeGreaterThanOrEqual(0);
    const rep = run("report", join(dir, "run"));
    expect(rep.status).toBe(0);
    const html = readFileSync(join(dir, "run", "report.html"), "utf8");
    expect(html).toContain("Precision–recall at IoU 0.5");
    expect((html.match(/<svg /g) ?? []).length).toBe(3);
    expect((html.match(/data:image\/png;base64,/g) ?? []).length).toBeGreaterThan(0);
    expect(html).not.toMatch(/(src|href)="https?:/); // opens offline: no external resources
    expect(run("report", join(dir, "nothing")).stderr).toMatch(/has no metrics.json/);
    const bad = run("train", ...base, "--loss", "hinge");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--loss must be rs or focal/);
  }, 300_000);
});
