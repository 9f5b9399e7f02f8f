// `npm run bench:train`: one train step (forward + backward + SGD update) of an exported detector on
// onnxruntime-node CPU against PyTorch CPU autograd on the same model, batch, image size and thread
// count, measured side by side (the PyTorch side also exports the model). Needs python3-torch.
//
//   bun bench/train_step.ts [--models tiny_fcos:64,r18_fcos:256] [--batch 2] [--threads 2] [--steps 5]

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

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { models: { type: "string", default: "tiny_fcos:64,r18_fcos:256" }, batch: { type: "string", default: "2" }, threads: { type: "string", default: "2" }, steps: { type: "string", default: "5" } },
});
const python = process.env.RANKSORT_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "ranksort-train-bench-"));
const batch = Number(values.batch);
const steps = Number(values.steps);
const rows = [["model", "image", "batch", "threads", "onnxruntime ms", "torch ms", "ort/torch", "ort peak MB", "torch peak MB"]];
try {
  for (const spec of values.models!.split(",")) {
    const [name, size] = [spec.split(":")[0]!, Number(spec.split(":")[1])];
    const onnx = join(dir, `${name}.onnx`);
    const py = spawnSync(python, [join(here, "torch_train_step.py"), "--model", name, "--size", String(size), "--batch", String(batch), "--threads", values.threads!, "--steps", String(steps), "--onnx", onnx], { encoding: "utf8", maxBuffer: 1 << 24 });
    if (py.status !== 0) throw new Error(`torch side failed: ${py.stderr.slice(-2000)}`);
    const torch = JSON.parse(py.stdout.trim().split("\n").at(-1)!);
    const model = readModel(onnx);
    const outNames = model.graph!.output.map((o) => o.name);
    const trainer = await Trainer.create({
      model,
      optimizer: { kind: "sgd" },
      // Same loss as the torch side: Σ over outputs of mean(out²).
      loss: (t, outs) => outNames.map((n) => t.e.op1("ReduceMean", [t.mul(outs[n]!, outs[n]!)], { keepdims: 0 }, { dtype: "float32" }) as Value).reduce((a, b) => t.add(a, b)),
    });
    const x = Float32Array.from({ length: batch * 3 * size * size }, (_, i) => Math.sin(i * 0.37));
    const feeds = { images: { type: "float32" as const, data: x, dims: [batch, 3, size, size] } };
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    await trainer.trainStep(feeds, 1e-4);
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      await trainer.trainStep(feeds, 1e-4);
      times.push(performance.now() - t0);
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    times.sort((a, b) => a - b);
    const ms = times[Math.floor(times.length / 2)]!;
    rows.push([name, `${size}²`, String(batch), values.threads!, ms.toFixed(0), torch.step_ms.toFixed(0), `${(ms / torch.step_ms).toFixed(2)}`, (peak / 2 ** 20).toFixed(0), torch.peak_rss_mb.toFixed(0)]);
    console.log(rows.at(-1)!.join("  "));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log("\nstep = forward + backward + SGD update, median of the timed steps; peak = process resident memory.");
printTable(rows);
