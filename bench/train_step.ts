// `npm run bench:train`: one train step (forward + backward + SGD update) of an exported detector on
// onnxruntime-node CPU against PyTorch CPU autograd on the same model, batch, image size, thread
// count and trained parameters, measured side by side in one run (PyTorch exports the model first,
// in its own process). Needs python3-torch. Run it on a quiet machine: PyTorch slows far more than
// onnxruntime under contention.
//
//   bun bench/train_step.ts [--models tiny_fcos:64,r18_fcos:256,ssdlite:320] [--batch 2] [--threads 2]
//                           [--steps 7] [--rounds 2]
//
// Each round times both sides again (PyTorch, then onnxruntime); a row reports the best round's
// median of each, so a noisy moment on this machine penalises neither side alone.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { printTable } from "../src/cli/commands/demo.ts";
import { readModel } from "../src/onnx/model_io.ts";
import { Trainer } from "../src/train/trainer.ts";
import type { Value } from "../src/onnx/builder.ts";

const ortSideRun = process.argv[2] === "--ort-side";
const { values } = parseArgs({
  args: ortSideRun ? [] : process.argv.slice(2),
  options: {
    models: { type: "string", default: "tiny_fcos:64,r18_fcos:256,ssdlite:320" },
    batch: { type: "string", default: "2" },
    threads: { type: "string", default: "2" },
    steps: { type: "string", default: "7" },
    rounds: { type: "string", default: "2" },
  },
});
const python = process.env.RANKSORT_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
const here = dirname(fileURLToPath(import.meta.url));
const batch = Number(ortSideRun ? process.argv[6] : values.batch);
const steps = Number(ortSideRun ? process.argv[8] : values.steps);
const threads = Number(ortSideRun ? process.argv[7] : values.threads);
const rounds = Number(values.rounds);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

interface TorchResult {
  step_ms: number;
  min_ms: number;
  first_step_ms: number;
  peak_rss_mb: number;
  parameters: string[];
}

function torchSide(name: string, size: number, extra: string[]): TorchResult {
  const py = spawnSync(python, [join(here, "torch_train_step.py"), "--model", name, "--size", String(size), "--batch", String(batch), "--threads", String(threads), ...extra], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (py.status !== 0) throw new Error(`torch side failed: ${py.stderr.slice(-2000)}`);
  return (extra[0] === "--onnx" ? {} : JSON.parse(py.stdout.trim().split("\n").at(-1)!)) as TorchResult;
}

/** One onnxruntime measurement in a fresh process (its own peak memory), as JSON on stdout. */
async function ortSide(onnx: string, size: number, trained: string[]): Promise<void> {
  const t0 = performance.now();
  const model = readModel(onnx);
  const outNames = model.graph!.output.map((o) => o.name);
  const trainable = new Set(trained);
  const trainer = await Trainer.create(
    {
      model,
      optimizer: { kind: "sgd" },
      frozen: (n) => !trainable.has(n),
      // Same loss as the torch side: Σ over outputs of mean(out²).
      loss: (t, outs) => outNames.map((n) => t.e.op1("ReduceMean", [t.mul(outs[n]!, outs[n]!)], { keepdims: 0 }, { dtype: "float32" }) as Value).reduce((a, b) => t.add(a, b)),
    },
    { threads },
  );
  const x = Float32Array.from({ length: batch * 3 * size * size }, (_, i) => Math.sin(i * 0.37));
  const feeds = { images: { type: "float32" as const, data: x, dims: [batch, 3, size, size] } };
  await trainer.trainStep(feeds, 1e-4);
  const firstStep = performance.now() - t0;
  await trainer.trainStep(feeds, 1e-4);
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const s = performance.now();
    await trainer.trainStep(feeds, 1e-4);
    times.push(performance.now() - s);
  }
  // maxRSS: the process's true peak (KiB), like PyTorch's ru_maxrss.
  console.log(JSON.stringify({ step_ms: median(times), min_ms: Math.min(...times), first_step_ms: firstStep, peak_rss_mb: process.resourceUsage().maxRSS / 1024 }));
}

if (ortSideRun) {
  await ortSide(process.argv[3]!, Number(process.argv[4]), JSON.parse(process.argv[5]!) as string[]);
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), "ranksort-train-bench-"));
const rows = [["model", "image", "batch", "threads", "onnxruntime ms", "torch ms", "ort/torch", "ort peak MB", "torch peak MB", "first step s (ort / torch)"]];
try {
  for (const spec of values.models!.split(",")) {
    const [name, size] = [spec.split(":")[0]!, Number(spec.split(":")[1])];
    const onnx = join(dir, `${name}.onnx`);
    torchSide(name, size, ["--onnx", onnx]);
    let best: { ort: TorchResult; torch: TorchResult } | undefined;
    for (let r = 0; r < rounds; r++) {
      const torch = torchSide(name, size, ["--steps", String(steps)]);
      const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--ort-side", onnx, String(size), JSON.stringify(torch.parameters), String(batch), String(threads), String(steps)], { encoding: "utf8", maxBuffer: 1 << 24 });
      if (run.status !== 0) throw new Error(`onnxruntime side failed: ${run.stderr.slice(-2000)}`);
      const ort = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as TorchResult;
      console.log(`${name} round ${r + 1}: onnxruntime ${ort.step_ms.toFixed(0)} ms (min ${ort.min_ms.toFixed(0)}), torch ${torch.step_ms.toFixed(0)} ms (min ${torch.min_ms.toFixed(0)})`);
      best = {
        ort: best && best.ort.step_ms < ort.step_ms ? best.ort : ort,
        torch: best && best.torch.step_ms < torch.step_ms ? best.torch : torch,
      };
    }
    const { ort, torch } = best!;
    rows.push([name, `${size}²`, String(batch), String(threads), ort.step_ms.toFixed(0), torch.step_ms.toFixed(0), (ort.step_ms / torch.step_ms).toFixed(2), ort.peak_rss_mb.toFixed(0), torch.peak_rss_mb.toFixed(0), `${(ort.first_step_ms / 1000).toFixed(1)} / ${(torch.first_step_ms / 1000).toFixed(1)}`]);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\nstep = forward + backward + SGD update of the parameters PyTorch trains, median of ${steps} steps after 2 warm-up steps, best of ${rounds} rounds;`);
console.log("peak = the process's maximum resident memory; first step = model load, graph build, session creation and the first step.");
printTable(rows);
