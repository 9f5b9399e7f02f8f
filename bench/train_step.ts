// `npm run bench:train`: one train step (forward + backward + SGD update) of an exported detector on
// onnxruntime-node CPU against PyTorch CPU autograd on the same model, batch, image size, thread
// count and trained parameters, measured side by side in one run (PyTorch exports the model first,
// in its own process). Needs python3-torch. Run it on a quiet machine: PyTorch slows far more than
// onnxruntime under contention.
//
//   bun bench/train_step.ts [--models tiny_fcos:64,r18_fcos:256,ssdlite:320,fcos_r50_full:256,…] [--batch 2] [--threads 2]
//                           [--steps 7] [--rounds 2] [--runtime node|bun|deno] [--steps-per-run K]
//
// The *_full models are torchvision's full detectors exported the ordinary way (post-processing
// included, one image per run): the onnxruntime side trains them as `ranksort train` does (bound by
// their preset, one graph copy per image), PyTorch the same layers from its transform to the heads.
//
// The onnxruntime side (train_step_side.mjs) runs on Node by default, the runtime of the `ranksort`
// command. (Bun returns each step's outputs in freshly mapped memory, which this VM faults in at
// ~11 µs per page: +0.2–0.3 s per R18 step; Node's allocator reuses it.)
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

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    models: { type: "string", default: "tiny_fcos:64,r18_fcos:256,ssdlite:320,fcos_r50_full:256,retinanet_r50_full:256,ssdlite_full:320" },
    batch: { type: "string", default: "2" },
    threads: { type: "string", default: "2" },
    steps: { type: "string", default: "7" },
    rounds: { type: "string", default: "2" },
    runtime: { type: "string", default: "node" },
    "steps-per-run": { type: "string", default: "" },
  },
});
const python = process.env.RANKSORT_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
const here = dirname(fileURLToPath(import.meta.url));
const batch = Number(values.batch);
const steps = Number(values.steps);
const threads = Number(values.threads);
const rounds = Number(values.rounds);

interface TorchResult {
  steps_per_run?: number;
  step_ms: number;
  min_ms: number;
  first_step_ms: number;
  peak_rss_mb: number;
  parameters: string[];
  /** The ranksort preset of a full export (*_full). */
  preset?: string | null;
}

function torchSide(name: string, size: number, extra: string[]): TorchResult {
  const py = spawnSync(python, [join(here, "torch_train_step.py"), "--model", name, "--size", String(size), "--batch", String(batch), "--threads", String(threads), ...extra], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (py.status !== 0) throw new Error(`torch side failed: ${py.stderr.slice(-2000)}`);
  return (extra[0] === "--onnx" ? {} : JSON.parse(py.stdout.trim().split("\n").at(-1)!)) as TorchResult;
}

// Node runs the compiled package, as the `ranksort` command does: build it first.
if (!["node", "bun", "deno"].includes(values.runtime!)) throw new Error(`--runtime: expected node, bun or deno, got "${values.runtime}"`);
const runtime = values.runtime === "bun" ? process.execPath : values.runtime === "deno" ? join(here, "..", "node_modules", ".bin", "deno") : "node";
const runtimeArgs = values.runtime === "deno" ? ["run", "-A"] : [];
if (values.runtime === "node") {
  const build = spawnSync(process.execPath, [join(here, "..", "node_modules", "typescript", "bin", "tsc"), "-p", join(here, "..", "tsconfig.build.json")], { encoding: "utf8" });
  if (build.status !== 0) throw new Error(`build failed: ${build.stdout}${build.stderr}`);
}
const dir = mkdtempSync(join(tmpdir(), "ranksort-train-bench-"));
const rows = [["model", "image", "batch", "threads", "steps/run", "onnxruntime ms", "torch ms", "ort/torch", "ort peak MB", "torch peak MB", "first step s (ort / torch)"]];
try {
  for (const spec of values.models!.split(",")) {
    const [name, size] = [spec.split(":")[0]!, Number(spec.split(":")[1])];
    const onnx = join(dir, `${name}.onnx`);
    torchSide(name, size, ["--onnx", onnx]);
    let best: { ort: TorchResult; torch: TorchResult } | undefined;
    for (let r = 0; r < rounds; r++) {
      const torch = torchSide(name, size, ["--steps", String(steps)]);
      const args = [join(here, "train_step_side.mjs"), onnx, String(size), String(batch), String(threads), String(steps), JSON.stringify(torch.parameters), values["steps-per-run"]!, torch.preset ?? ""];
      const run = spawnSync(runtime, [...runtimeArgs, ...args], { encoding: "utf8", maxBuffer: 1 << 24 });
      if (run.status !== 0) throw new Error(`onnxruntime side failed: ${run.stderr.slice(-2000)}`);
      const ort = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as TorchResult;
      console.log(`${name} round ${r + 1}: onnxruntime ${ort.step_ms.toFixed(0)} ms (min ${ort.min_ms.toFixed(0)}), torch ${torch.step_ms.toFixed(0)} ms (min ${torch.min_ms.toFixed(0)})`);
      best = {
        ort: best && best.ort.step_ms < ort.step_ms ? best.ort : ort,
        torch: best && best.torch.step_ms < torch.step_ms ? best.torch : torch,
      };
    }
    const { ort, torch } = best!;
    rows.push([name, `${size}²`, String(batch), String(threads), String(ort.steps_per_run ?? 1), ort.step_ms.toFixed(0), torch.step_ms.toFixed(0), (ort.step_ms / torch.step_ms).toFixed(2), ort.peak_rss_mb.toFixed(0), torch.peak_rss_mb.toFixed(0), `${(ort.first_step_ms / 1000).toFixed(1)} / ${(torch.first_step_ms / 1000).toFixed(1)}`]);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\nonnxruntime side on ${values.runtime}; step = forward + backward + SGD update of the parameters PyTorch trains, median of ${steps} samples after warm-up, best of ${rounds} rounds;`);
console.log("steps/run = train steps per onnxruntime session run, as `ranksort train` picks them for the model (a sample = one run's time ÷ its steps); PyTorch one step per sample;");
console.log("peak = the process's maximum resident memory; first step = model load, graph build, session creation and the first step.");
printTable(rows);
