// Fault injection on `ranksort train` (tiny FCOS, 10 synthetic images, 2 steps per epoch): kill -9
// at random moments then --resume ends bit-identical to an uninterrupted run with every epoch
// once; divergence leaves the last good epoch intact and finite; a second run into a folder in use
// refuses; SIGINT commits and resumes exactly; finished runs are not overwritten; default folders
// are numbered.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { writeSyntheticDataset } from "../../src/data/synthetic_dataset.ts";
import { decodeModel, encodeModel } from "../../src/onnx/model_codec.ts";
import { readCheckpoint } from "../../src/train/checkpoint.ts";
import { mulberry32 } from "../../src/util/random.ts";
import { errorLines, ranksort, sleep, startRanksort, tinyModel } from "../support/train_run.ts";

const dir = mkdtempSync(join(tmpdir(), "ranksort-reliability-"));
const data = join(dir, "data");
const args = (out: string, ...more: string[]) => ["train", "--model", tinyModel, "--preset", "tiny-fcos", "--data", data, "--out", out, "--batch", "4", "--epochs", "3", ...more];
const epochsOf = (run: string) => (JSON.parse(readFileSync(join(run, "metrics.json"), "utf8")) as { epoch: number }[]).map((m) => m.epoch);
const bytes = (path: string) => readFileSync(path);
const reference = join(dir, "reference");

function expectFinite(run: string) {
  for (const [name, t] of Object.entries(readCheckpoint(join(run, "checkpoint.bin")).tensors)) {
    expect({ name, finite: (t.data as Float32Array).every(Number.isFinite) }).toEqual({ name, finite: true });
  }
  for (const init of decodeModel(bytes(join(run, "model.onnx"))).graph!.initializer) {
    if (init.dataType !== 1 || !init.rawData.length) continue;
    const v = new Float32Array(new Uint8Array(init.rawData).buffer);
    expect({ name: init.name, finite: v.every(Number.isFinite) }).toEqual({ name: init.name, finite: true });
  }
}

/** Wall time of the uninterrupted run: kill moments scale with it, so a loaded machine still sees kills at every phase. */
let referenceMs = 0;

beforeAll(() => {
  writeSyntheticDataset(data, { images: 10, size: 128, seed: 3 });
  const t0 = performance.now();
  const r = ranksort(args(reference));
  referenceMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`reference run failed: ${r.stderr}`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The demo model with other weights: fits the preset, but is a different model. */
function otherModel(): string {
  const m = decodeModel(new Uint8Array(readFileSync(tinyModel)));
  const t = m.graph!.initializer.find((x) => x.rawData.length >= 4)!;
  t.rawData = t.rawData.slice();
  t.rawData[0] = t.rawData[0]! ^ 1;
  const path = join(mkdtempSync(join(tmpdir(), "ranksort-other-model-")), "other.onnx");
  writeFileSync(path, encodeModel(m));
  return path;
}

describe("ranksort train survives faults", () => {
  test("kill -9 at random moments, then --resume: every epoch once, checkpoint and model bit-identical", async () => {
    expect(epochsOf(reference)).toEqual([0, 1, 2, 3]);
    const run = join(dir, "killed");
    const rand = mulberry32(12);
    let kills = 0;
    const resumable = () => (existsSync(join(run, "state.json")) || existsSync(join(run, ".pending", "COMMIT")) ? ["--resume"] : []);
    for (let attempt = 0; attempt < 10; attempt++) {
      const p = startRanksort(args(run, ...resumable()));
      // Within the first 60% of an uninterrupted run: resumed runs have less left to do, and under load
      // later attempts would otherwise finish before their kill (fewer than three kills).
      const killAfter = (0.1 + 0.5 * rand()) * referenceMs;
      const outcome = await Promise.race([p.done, sleep(killAfter).then(() => undefined)]);
      if (outcome) {
        expect({ code: outcome.code, errors: errorLines(outcome.stderr) }).toEqual({ code: 0, errors: [] });
        break;
      }
      p.child.kill("SIGKILL");
      await p.done;
      kills++;
      // Whatever was visible after the kill is one whole epoch: metrics rows 0…k, never a gap or twin.
      if (existsSync(join(run, "metrics.json"))) {
        const e = epochsOf(run);
        expect(e).toEqual(e.map((_, i) => i));
      }
    }
    expect(kills).toBeGreaterThanOrEqual(3);
    if (!existsSync(join(run, "metrics.json")) || epochsOf(run).length < 4) expect(ranksort(args(run, ...resumable())).status).toBe(0);
    expect(epochsOf(run)).toEqual([0, 1, 2, 3]);
    expect(bytes(join(run, "checkpoint.bin")).equals(bytes(join(reference, "checkpoint.bin")))).toBe(true);
    expect(bytes(join(run, "model.onnx")).equals(bytes(join(reference, "model.onnx")))).toBe(true);
    expect(readdirSync(run).sort()).toEqual(["adapter.json", "checkpoint.bin", "evaluation.json", "metrics.json", "model.onnx", "report.html", "run.json", "state.json"]);
  }, 120_000);

  test("--steps-per-run 1 trains the same run bit for bit as the default's several steps per session run", () => {
    const run = join(dir, "one-step-runs");
    const r = ranksort(args(run, "--steps-per-run", "1"));
    expect({ status: r.status, errors: errorLines(r.stderr) }).toEqual({ status: 0, errors: [] });
    const settings = (folder: string) => JSON.parse(readFileSync(join(folder, "run.json"), "utf8")).stepsPerRun;
    expect([settings(reference), settings(run)]).toEqual([4, 1]);
    expect(bytes(join(run, "checkpoint.bin")).equals(bytes(join(reference, "checkpoint.bin")))).toBe(true);
    expect(bytes(join(run, "model.onnx")).equals(bytes(join(reference, "model.onnx")))).toBe(true);
  }, 60_000);

  test("SIGINT: the step in progress finishes, a checkpoint is committed, --resume ends bit-identical", async () => {
    const run = join(dir, "interrupted");
    const p = startRanksort(args(run));
    while (!existsSync(join(run, "state.json"))) await sleep(50);
    await sleep(400);
    p.child.kill("SIGINT");
    const r = await p.done;
    expect(r.code).toBe(130);
    const [line, ...rest] = errorLines(r.stderr).filter((l) => !l.includes("received"));
    expect(rest).toEqual([]);
    expect(line).toMatch(/^ranksort train: interrupted by SIGINT at step \d+ \(epoch \d, \d of 2 steps done\); checkpoint committed in .*; continue with the same flags and --resume$/);
    const state = JSON.parse(readFileSync(join(run, "state.json"), "utf8"));
    expect(readCheckpoint(join(run, "checkpoint.bin")).step).toBe(state.partial?.step ?? state.epoch * 2);
    expect(ranksort(args(run, "--resume")).status).toBe(0);
    expect(epochsOf(run)).toEqual([0, 1, 2, 3]);
    expect(bytes(join(run, "checkpoint.bin")).equals(bytes(join(reference, "checkpoint.bin")))).toBe(true);
  }, 60_000);

  test("divergence: non-zero exit naming step, rate and last good epoch; that epoch's files intact and finite", () => {
    const one = (out: string, ...more: string[]) => ["train", "--model", tinyModel, "--preset", "tiny-fcos", "--data", data, "--out", out, "--batch", "8", ...more];
    // From the start: the first (and epoch's last) step leaves weights whose loss is NaN.
    const fresh = ranksort(one(join(dir, "diverged0"), "--epochs", "2", "--lr", "1e10"));
    expect(fresh.status).toBe(2);
    expect(errorLines(fresh.stderr)).toEqual([expect.stringMatching(/^ranksort train: training diverged at step 1 \(learning rate 1\.00e\+10\): the loss after the update is NaN \(epoch 1, step 1 of 1\); the epoch was not committed\. The last good epoch is 0/)]);
    expect(epochsOf(join(dir, "diverged0"))).toEqual([0]);
    // After a good epoch: continuing at 1e10 diverges on epoch 2's last step; epoch 1 stays as it was.
    const run = join(dir, "diverged1");
    expect(ranksort(one(run, "--epochs", "1")).status).toBe(0);
    const before = { ckpt: bytes(join(run, "checkpoint.bin")), model: bytes(join(run, "model.onnx")), metrics: bytes(join(run, "metrics.json")) };
    const r = ranksort(one(run, "--epochs", "2", "--lr", "1e10", "--resume", "--accept-change", "epochs,lr"));
    expect(r.status).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^ranksort train: training diverged at step 2 \(learning rate [\d.]+e\+9\): .* The last good epoch is 1: .*checkpoint\.bin and model\.onnx are intact/)]);
    expect(bytes(join(run, "checkpoint.bin")).equals(before.ckpt)).toBe(true);
    expect(bytes(join(run, "model.onnx")).equals(before.model)).toBe(true);
    expect(bytes(join(run, "metrics.json")).equals(before.metrics)).toBe(true);
    expectFinite(run);
  }, 60_000);

  test("two concurrent runs into one folder: the second refuses, the first finishes", async () => {
    const run = join(dir, "concurrent");
    const first = startRanksort(args(run));
    while (!existsSync(join(run, "lock"))) await sleep(20);
    const second = ranksort(args(run));
    expect(second.status).toBe(2);
    expect(errorLines(second.stderr)).toEqual([expect.stringMatching(/^ranksort train: .*concurrent is in use by another ranksort train \(pid \d+, since .*\); lock file .*lock \(remove it if no such run is going on\)$/)]);
    expect((await first.done).code).toBe(0);
    expect(epochsOf(run)).toEqual([0, 1, 2, 3]);
    // A lock left by a dead process is stale: taken over.
    writeFileSync(join(run, "lock"), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), started: "then" }));
    expect(ranksort(args(run, "--resume")).status).toBe(0);
    expect(existsSync(join(run, "lock"))).toBe(false);
  }, 60_000);

  test("run folders: a finished run is not overwritten; --resume needs a run and matching settings; default folders are numbered", () => {
    const copy = join(dir, "copy");
    cpSync(reference, copy, { recursive: true });
    const table: [string[], RegExp][] = [
      [args(copy), /already holds a finished run \(3 epochs\); pass --resume to continue it, --overwrite to replace it/],
      [args(join(dir, "empty"), "--resume"), /--resume: .*empty holds no run to resume; drop --resume to start one/],
      [[...args(copy, "--resume"), "--batch", "2"], /--resume: --batch differs from the run's \(4 there, 2 now\); it cannot change within a run/],
      [[...args(copy, "--resume"), "--epochs", "5"], /--resume: --epochs differs from the run's \(3 there, 5 now\); pass the same value, or --accept-change epochs/],
      [[...args(copy, "--resume"), "--lr", "0.02"], /--resume: --lr differs/],
      [[...args(copy, "--resume"), "--model", otherModel()], /--resume: the model \(--model: a different file\) differs/],
      [[...args(copy, "--resume"), "--optimizer", "adamw"], /--resume: --optimizer differs/],
    ];
    for (const [argv, message] of table) {
      const r = ranksort(argv);
      expect({ argv, status: r.status, errors: errorLines(r.stderr) }).toEqual({ argv, status: 2, errors: [expect.stringMatching(message)] });
    }
    const legacy = join(dir, "legacy");
    mkdirSync(legacy);
    cpSync(join(reference, "checkpoint.bin"), join(legacy, "checkpoint.bin"));
    const old = ranksort(args(legacy, "--resume"));
    expect(errorLines(old.stderr)).toEqual([expect.stringMatching(/--resume: .*legacy has no state\.json \(written by an older ranksort\?\); start a new run$/)]);
    const ckpt = readFileSync(join(copy, "checkpoint.bin"));
    writeFileSync(join(copy, "checkpoint.bin"), ckpt.subarray(0, ckpt.length - 100));
    const truncated = ranksort(args(copy, "--resume"));
    expect({ status: truncated.status, errors: errorLines(truncated.stderr) }).toEqual({ status: 2, errors: [expect.stringMatching(/checkpoint\.bin was changed or damaged after epoch 3 was committed/)] });
    writeFileSync(join(copy, "checkpoint.bin"), ckpt);
    writeFileSync(join(copy, "metrics.json"), "[{");
    const damaged = ranksort(args(copy, "--resume"));
    expect(errorLines(damaged.stderr)).toEqual([expect.stringMatching(/metrics\.json was changed or damaged after epoch 3 was committed/)]);
    expect(ranksort(args(copy, "--overwrite", "--epochs", "1")).status).toBe(0);
    expect(epochsOf(copy)).toEqual([0, 1]);
    // Without --out: the first free of runs/train, runs/train2, … (runs/train is taken here).
    const cwd = join(dir, "cwd");
    mkdirSync(join(cwd, "runs", "train"), { recursive: true });
    const a = ranksort(["train", "--model", tinyModel, "--preset", "tiny-fcos", "--data", data, "--batch", "8", "--epochs", "1"], { cwd });
    expect(a.status).toBe(0);
    expect(a.stderr).toContain("run folder: runs/train2\n");
    expect(epochsOf(join(cwd, "runs", "train2"))).toEqual([0, 1]);
    // A fresh folder that a failed start left empty is removed again.
    expect(ranksort(["train", "--model", tinyModel, "--preset", "tiny-fcos", "--data", join(dir, "nowhere")], { cwd }).status).toBe(2);
    expect(readdirSync(join(cwd, "runs")).sort()).toEqual(["train", "train2"]);
  }, 60_000);
});
