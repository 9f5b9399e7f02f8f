// `ranksort train` and `ranksort eval`: fine-tune an exported detector on a COCO-format dataset.

import { parseArgs } from "node:util";
import { loadAdapter } from "../../detect/adapter.ts";
import { type Progress, trainDetector } from "../../detect/detector_training.ts";
import type { ExecutionProvider } from "../../runtime/session.ts";
import { UsageError } from "../usage_error.ts";

export const trainUsage = `ranksort train --model m.onnx --preset P --data DIR --out RUN [--epochs 12] [--batch 8] [--lr 0.01]
               [--freeze PATTERN[,PATTERN]] [--new-classes]
               [--optimizer sgd|adamw] [--loss rs|focal] [--backend cpu|wasm|webgpu|cuda]
               [--loss-kernels body|webgpu|cpu|cuda] [--resume]

Fine-tunes an exported detector (the preset or an adapter JSON maps its outputs) on a COCO-format
dataset (DIR/annotations.json, DIR/images/) with Rank & Sort loss (the official heads' form) or
Focal + GIoU. After each epoch: RUN/checkpoint.bin, and COCO AP / AP50 / AP75 / oLRP on the held-out
last 20% of images in RUN/metrics.json. --resume continues from RUN/checkpoint.bin.
--backend picks onnxruntime's execution provider for the detector's forward, backward and optimizer.
--loss-kernels picks where the RS/AP/aLRP ops run: body = their ONNX function bodies on that EP;
webgpu = the WGSL kernels on onnxruntime-web's GPU device (tensors never leave the GPU; the default
with --backend webgpu); cpu / cuda = the native kernels, tensors through host memory.
--freeze keeps initializers fixed: name globs (backbone.body.*), "backbone", or "bn" (BatchNorm and
the constants an eval export folded FrozenBN into). --new-classes re-initialises the class branch's
last layer for the dataset's categories when they are not among the model's class names (adapter
"classNames"); a subset of them trains on those channels. --batch defaults to 8, or the model's static batch.
The model may be an ordinary export with post-processing: the adapter names its head tensors (see
\`ranksort inspect MODEL\`); model.onnx is then the same file with trained weights, checked as a drop-in.`;

export function num(name: string, v: string | undefined, min: number, integer = false): number {
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

export async function trainCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: "string" }, preset: { type: "string" }, data: { type: "string" }, out: { type: "string" },
      epochs: { type: "string", default: "12" }, batch: { type: "string" }, lr: { type: "string", default: "0.01" },
      optimizer: { type: "string", default: "sgd" }, loss: { type: "string", default: "rs" }, backend: { type: "string", default: "cpu" },
      "loss-kernels": { type: "string" },
      freeze: { type: "string" },
      resume: { type: "boolean", default: false },
      "new-classes": { type: "boolean", default: false },
    },
  });
  for (const k of ["model", "preset", "data", "out"] as const) if (!values[k]) throw new UsageError(`--${k} is required\n\n${trainUsage}`);
  if (values.loss !== "rs" && values.loss !== "focal") throw new UsageError(`--loss must be rs or focal, got ${values.loss}`);
  if (values["loss-kernels"] !== undefined && !["body", "webgpu", "cpu", "cuda"].includes(values["loss-kernels"])) {
    throw new UsageError(`--loss-kernels must be body, webgpu, cpu or cuda, got ${values["loss-kernels"]}`);
  }
  if (values.optimizer !== "sgd" && values.optimizer !== "adamw") throw new UsageError(`--optimizer must be sgd or adamw, got ${values.optimizer}`);
  const tty = process.stderr.isTTY;
  const metrics = await trainDetector({
    modelPath: values.model!,
    adapter: loadAdapter(values.preset!),
    dataDir: values.data!,
    outDir: values.out!,
    epochs: num("epochs", values.epochs, 1, true),
    batch: values.batch === undefined ? undefined : num("batch", values.batch, 1, true),
    freeze: values.freeze?.split(",").map((p) => p.trim()).filter((p) => p),
    lr: num("lr", values.lr, 0),
    optimizer: values.optimizer,
    loss: values.loss,
    backend: values.backend as ExecutionProvider,
    lossKernels: values["loss-kernels"] ?? (values.backend === "webgpu" ? "webgpu" : "body"),
    resume: values.resume,
    newClasses: values["new-classes"],
    onDropIn: (c) => console.log(`drop-in check: ${c.ok ? "passed" : "FAILED"} — ${c.summary}`),
    onProgress: (p) => {
      if (tty) process.stderr.write(`\r${progressLine(p)}`);
      else if (p.step === p.steps) process.stderr.write(`${progressLine(p)}\n`);
    },
  });
  if (tty) process.stderr.write("\n");
  for (const m of metrics) {
    console.log(`epoch ${m.epoch}: loss ${(m.loss === null ? "  -  " : m.loss.toFixed(3))}  AP ${m.AP.toFixed(3)}  AP50 ${m.AP50.toFixed(3)}  AP75 ${m.AP75.toFixed(3)}  oLRP ${m.oLRP.toFixed(3)}  ${m.epoch === 0 ? "-" : m.imagesPerSecond.toFixed(1)} img/s`);
  }
  console.log(`run folder: ${values.out} (metrics.json, checkpoint.bin, model.onnx, adapter.json)`);
  return 0;
}
