// `ranksort train` and `ranksort eval`: fine-tune an exported detector on a COCO-format dataset.

import { parseArgs } from "node:util";
import { loadAdapter, PRESETS } from "../../detect/adapter.ts";
import { existsSync, rmdirSync } from "node:fs";
import { type EpochMetrics, type Progress, trainDetector } from "../../detect/detector_training.ts";
import { freshRunFolder } from "../../train/run_folder.ts";
import { ACCEPTABLE_CHANGES } from "../../train/run_signature.ts";
import type { ExecutionProvider } from "../../runtime/session.ts";
import { UsageError } from "../usage_error.ts";

export const trainUsage = `ranksort train --model m.onnx --preset P --data DIR [--out RUN] [--epochs 12] [--batch 8] [--lr 0.01]
               [--freeze PATTERN[,PATTERN]] [--new-classes]
               [--optimizer sgd|adamw] [--loss rs|focal] [--backend cpu|wasm|webgpu|cuda]
               [--loss-kernels body|webgpu|cpu|cuda] [--resume [--accept-change F,…] | --overwrite]
               [--seed 1] [--val DIR | --val-fraction 0.2] [--steps-per-run K]

Fine-tunes an exported detector (the preset or an adapter JSON maps its outputs) on a COCO-format
dataset (DIR/annotations.json, DIR/images/) with Rank & Sort loss (the official heads' form) or
Focal + GIoU. After each epoch, committed together: RUN/checkpoint.bin, RUN/model.onnx, and COCO
AP / AP50 / AP75 / oLRP on the held-out last 20% of images (--val-fraction) or on a separate set
(--val DIR) in RUN/metrics.json; at the end RUN/report.html. Without --out a new folder runs/train,
runs/train2, … is used. A folder holding a run is refused unless --resume (continue from its last
commit; batch, epochs, lr, optimizer, loss, data and model must match, or --accept-change
epochs,lr,data,model lets those differ) or --overwrite (replace it). A diverging step stops the run
with the last good epoch intact; Ctrl-C (SIGINT/SIGTERM) commits the current step and exits with how
to resume. --seed fixes the shuffling and augmentation.
Presets: ${Object.keys(PRESETS).join(", ")} (or an adapter JSON file).
--backend picks onnxruntime's execution provider for the detector's forward, backward and optimizer.
--loss-kernels picks where the RS/AP/aLRP ops run: body = their ONNX function bodies on that EP;
webgpu = the WGSL kernels on onnxruntime-web's GPU device (tensors never leave the GPU; the default
with --backend webgpu); cpu / cuda = the native kernels, tensors through host memory.
--freeze keeps initializers fixed: name globs (backbone.body.*), "backbone", or "bn" (BatchNorm and
the constants an eval export folded FrozenBN into). --new-classes re-initialises the class branch's
last layer for the dataset's categories when they are not among the model's class names (adapter
"classNames"); a subset of them trains on those channels. --batch defaults to 8, or the model's static batch.
--steps-per-run K runs K train steps per onnxruntime session run (a Loop over K batches; the same
weights bit for bit): it saves copying every weight out of onnxruntime after each step, at the cost
of one more copy of the weights and optimizer state in memory. Default 4 on the CPU backend when
those fit in 64 MB, else 1; the native loss kernels (--loss-kernels cpu|cuda|webgpu) need 1.
The model may be an ordinary export with post-processing: the adapter names its head tensors (see
\`ranksort inspect MODEL\`); model.onnx is then the same file with trained weights, checked as a drop-in.`;

export function num(name: string, v: string | undefined, min: number, integer = false): number {
  if (v === undefined || v.trim() === "") throw new UsageError(`--${name} needs a value (${integer ? "an integer" : "a number"} >= ${min})`);
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) throw new UsageError(`--${name} must be ${integer ? "an integer" : "a number"} >= ${min}, got ${v}`);
  return n;
}

export function progressLine(p: Progress): string {
  const width = 20;
  const done = Math.round((p.step / p.steps) * width);
  const parts = Object.entries(p.report).map(([k, v]) => `${k} ${v.toFixed(3)}`);
  const eta = `${Math.floor(p.etaSeconds / 60)}:${String(Math.round(p.etaSeconds % 60)).padStart(2, "0")}`;
  return `epoch ${p.epoch}/${p.epochs} [${"#".repeat(done)}${"-".repeat(width - done)}] step ${p.step}/${p.steps} loss ${p.loss.toFixed(3)} ${parts.join(" ")} ETA ${eta}`;
}

/**
 * `--lr -1` as `--lr=-1`: parseArgs calls a dash-led value "ambiguous"; for options that take a
 * value, a following number is that value (the range check then says what is allowed).
 */
export function attachNegativeNumbers(argv: string[], valued: Iterable<string>): string[] {
  const names = new Set([...valued].map((n) => `--${n}`));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (names.has(a) && next !== undefined && /^-(\d|\.\d|Infinity)/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

const VALUED = ["model", "preset", "data", "out", "epochs", "batch", "lr", "optimizer", "loss", "backend", "loss-kernels", "accept-change", "freeze", "seed", "val", "val-fraction", "steps-per-run"];

function valFraction(v: string | undefined, valDir: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (valDir) throw new UsageError("--val and --val-fraction exclude each other: --val DIR replaces the hold-out");
  const f = Number(v);
  if (!(f > 0 && f < 1)) throw new UsageError(`--val-fraction must be between 0 and 1 (exclusive), got ${v}`);
  return f;
}

/** The per-epoch table of `train` and `demo` (epoch 0 = the model before training; oLRP: lower is better). */
export function printMetricsTable(metrics: readonly EpochMetrics[]): void {
  console.log("\nepoch   loss    AP     AP50   AP75   oLRP↓  img/s");
  for (const m of metrics) {
    console.log(`${String(m.epoch).padStart(5)}  ${(m.loss === null ? "  -  " : m.loss.toFixed(3))}  ${m.AP.toFixed(3)}  ${m.AP50.toFixed(3)}  ${m.AP75.toFixed(3)}  ${m.oLRP.toFixed(3)}  ${m.epoch === 0 ? "-" : m.imagesPerSecond.toFixed(1)}`);
  }
}

export async function trainCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: attachNegativeNumbers(argv, VALUED),
    options: {
      model: { type: "string" }, preset: { type: "string" }, data: { type: "string" }, out: { type: "string" },
      epochs: { type: "string", default: "12" }, batch: { type: "string" }, lr: { type: "string", default: "0.01" },
      optimizer: { type: "string", default: "sgd" }, loss: { type: "string", default: "rs" }, backend: { type: "string", default: "cpu" },
      "loss-kernels": { type: "string" },
      freeze: { type: "string" },
      resume: { type: "boolean", default: false },
      overwrite: { type: "boolean", default: false },
      "accept-change": { type: "string" },
      seed: { type: "string", default: "1" }, val: { type: "string" }, "val-fraction": { type: "string" },
      "new-classes": { type: "boolean", default: false },
      "steps-per-run": { type: "string" },
    },
  });
  for (const k of ["model", "preset", "data"] as const) if (!values[k]) throw new UsageError(`--${k} is required\n\n${trainUsage}`);
  if (values.resume && values.overwrite) throw new UsageError("--resume and --overwrite exclude each other");
  if (values.resume && !values.out) throw new UsageError("--resume needs --out RUN (the run folder to continue)");
  const acceptChanges = values["accept-change"]?.split(",").map((f) => f.trim()).filter(Boolean) ?? [];
  for (const f of acceptChanges) if (!(ACCEPTABLE_CHANGES as readonly string[]).includes(f)) throw new UsageError(`--accept-change: ${f} cannot be accepted; one of ${ACCEPTABLE_CHANGES.join(", ")}`);
  if (acceptChanges.length && !values.resume) throw new UsageError("--accept-change applies to --resume only");
  if (values.loss !== "rs" && values.loss !== "focal") throw new UsageError(`--loss must be rs or focal, got ${values.loss}`);
  if (values["loss-kernels"] !== undefined && !["body", "webgpu", "cpu", "cuda"].includes(values["loss-kernels"])) {
    throw new UsageError(`--loss-kernels must be body, webgpu, cpu or cuda, got ${values["loss-kernels"]}`);
  }
  if (values.optimizer !== "sgd" && values.optimizer !== "adamw") throw new UsageError(`--optimizer must be sgd or adamw, got ${values.optimizer}`);
  const stepsPerRun = values["steps-per-run"] === undefined ? undefined : num("steps-per-run", values["steps-per-run"], 1, true);
  const lossKernels = values["loss-kernels"] ?? (values.backend === "webgpu" ? "webgpu" : "body");
  if (stepsPerRun !== undefined && stepsPerRun > 1 && lossKernels !== "body") {
    throw new UsageError(`--steps-per-run ${stepsPerRun}: the native loss kernels (--loss-kernels ${lossKernels}) run between session runs, one step each; use --steps-per-run 1 or --loss-kernels body`);
  }
  const epochs = num("epochs", values.epochs, 1, true);
  const batch = values.batch === undefined ? undefined : num("batch", values.batch, 1, true);
  const lr = num("lr", values.lr, 0);
  const adapter = loadAdapter(values.preset!);
  const runsExisted = existsSync("runs");
  const outDir = values.out ?? freshRunFolder("runs", "train");
  if (!values.out) console.error(`run folder: ${outDir}`);
  const tty = process.stderr.isTTY;
  const metrics = await trainDetector({
    modelPath: values.model!,
    adapter,
    dataDir: values.data!,
    outDir,
    epochs,
    batch,
    freeze: values.freeze?.split(",").map((p) => p.trim()).filter((p) => p),
    lr,
    optimizer: values.optimizer,
    loss: values.loss,
    backend: values.backend as ExecutionProvider,
    lossKernels,
    stepsPerRun,
    resume: values.resume,
    overwrite: values.overwrite,
    acceptChanges,
    handleSignals: true,
    newClasses: values["new-classes"],
    onDropIn: (c) => console.log(`drop-in check: ${c.ok ? "passed" : "FAILED"} — ${c.summary}`),
    seed: num("seed", values.seed, 0, true),
    valDir: values.val,
    valFraction: valFraction(values["val-fraction"], values.val),
    onProgress: (p) => {
      if (tty) process.stderr.write(`\r${progressLine(p)}`);
      else if (p.step === p.steps) process.stderr.write(`${progressLine(p)}\n`);
    },
  }).catch((e) => {
    if (!values.out) {
      // A fresh folder that got nothing is not left behind, nor the runs/ folder made for it.
      removeIfEmpty(outDir);
      if (!runsExisted) removeIfEmpty("runs");
    }
    throw e;
  });
  if (tty) process.stderr.write("\n");
  printMetricsTable(metrics);
  const { reportFor } = await import("./report.ts");
  console.log(`\nrun folder: ${outDir} (metrics.json, checkpoint.bin, model.onnx, adapter.json); report: ${reportFor(outDir)}`);
  return 0;
}

function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // not empty (something was committed) or already gone
  }
}
