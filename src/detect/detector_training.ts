// Fine-tuning an exported detector with RS loss (or Focal + GIoU) on a COCO-format dataset:
// batches, ATSS assignment on the host, one train-step graph per run, evaluation (COCO AP, oLRP)
// after every epoch, a checkpoint per epoch and RUN/metrics.json — written atomically.

import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { loadCoco } from "../data/coco.ts";
import { encodeModel } from "../onnx/model_codec.ts";
import { readModel } from "../onnx/model_io.ts";
import type { ExecutionProvider } from "../runtime/session.ts";
import { recalibrateBatchNorm } from "../train/precise_batch_norm.ts";
import { Trainer } from "../train/trainer.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { mulberry32 } from "../util/random.ts";
import { readImage } from "../data/image.ts";
import { replicateGraph } from "../onnx/replicate.ts";
import { frozenInitializers } from "../train/freeze.ts";
import { AdapterError, type DetectorAdapter } from "./adapter.ts";
import { batchPlan, imageBatches, makeBatch, split } from "./detector_batches.ts";
import { bindDetector, type BoundDetector } from "./detector_binding.ts";
import { fitClassSet } from "./class_sets.ts";
import { checkDropIn, type DropInCheck, DropInError } from "./dropin_check.ts";
import { detectionLoss } from "./detector_loss.ts";
import { type COCOMetrics, type Detection } from "./evaluate.ts";
import { evaluateDetector } from "./evaluate_detector.ts";

export interface DetectorTrainConfig {
  modelPath: string;
  adapter: DetectorAdapter;
  dataDir: string;
  outDir: string;
  epochs: number;
  /** Images per step (default 8; a static-batch model trains at its batch). */
  batch?: number;
  lr: number;
  optimizer: "sgd" | "adamw";
  loss: "rs" | "focal";
  backend: ExecutionProvider;
  /** Where the loss ops run: "body" (ONNX function bodies in the EP) or a kernel backend name. */
  lossKernels?: string;
  resume?: boolean;
  seed?: number;
  /** Fraction of images held out for evaluation (the last ones). Default 0.2. */
  valFraction?: number;
  onProgress?: (p: Progress) => void;
  /** Initializer patterns to keep fixed (name globs, "backbone", "bn"), besides the adapter's `frozen`. */
  freeze?: string[];
  /** Re-initialise the class branch for the dataset's categories when they are not the model's (src/detect/class_sets.ts). */
  newClasses?: boolean;
  /** Called with the drop-in check's result (models whose adapter names their own detection outputs). */
  onDropIn?: (check: DropInCheck) => void;
}

export interface Progress {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number;
  report: Record<string, number>;
  etaSeconds: number;
}

export interface EpochMetrics extends COCOMetrics {
  /** 0 is the model before training. */
  epoch: number;
  /** Mean training loss over the epoch (null for epoch 0). */
  loss: number | null;
  components: Record<string, number>;
  oLRP: number;
  trainSeconds: number;
  imagesPerSecond: number;
}

/** The batch size a model takes: its static batch when it has one, else the config's (checked against it). */
export function resolveBatch(bound: BoundDetector, requested: number | undefined, label: string): number {
  const k = bound.input.staticBatch;
  if (bound.input.layout === "NCHW" && k !== undefined) {
    if (requested !== undefined && requested !== k) {
      throw new AdapterError(`${label} has a static batch of ${k} (input "${bound.input.name}" is [${k}, 3, ${bound.input.size}, ${bound.input.size}]), so --batch must be ${k}; got ${requested} (re-export with a dynamic batch axis to train larger batches)`);
    }
    return k;
  }
  return requested ?? 8;
}

export async function trainDetector(cfg: DetectorTrainConfig): Promise<EpochMetrics[]> {
  const dataset = loadCoco(cfg.dataDir);
  const label = basename(cfg.modelPath);
  const source = readModel(cfg.modelPath);
  // The dataset's class set: the model's own, a subset by name, or a new class branch (--new-classes).
  const bound = await fitClassSet(await bindDetector(source, cfg.adapter, label), dataset.categories.map((c) => c.name), { newClasses: cfg.newClasses, seed: cfg.seed }, label);
  const adapter = bound.adapter;
  const batchSize = resolveBatch(bound, cfg.batch, label);
  const { train, val } = split(dataset, cfg.valFraction ?? 0.2);
  if (!train.length) throw new Error(`no training images left after holding out ${val.length} for evaluation`);
  // One graph copy per image for one-image-per-run models ([3, H, W] input), else one for the batch.
  const copies = bound.input.layout === "CHW" ? batchSize : 1;
  const replicated = replicateGraph(bound.heads, copies);
  const plan = batchPlan(bound, batchSize, replicated.nameIn);
  const frozen = frozenInitializers(bound.model, [...(adapter.frozen ?? []), ...(cfg.freeze ?? [])]);
  // A native model's decode constants (anchor points, strides, DFL weights) are buffers, not weights.
  for (const name of bound.native?.decodeConstants ?? []) frozen.add(name);
  const trainer = await Trainer.create(
    {
      model: replicated.model,
      inferenceModel: bound.model,
      untieExportTies: false,
      frozen: (name) => frozen.has(name),
      optimizer: cfg.optimizer === "sgd" ? { kind: "sgd", momentum: 0.9, weightDecay: 1e-4 } : { kind: "adamw", weightDecay: 1e-4 },
      clipGradNorm: 10,
      loss: detectionLoss(plan, cfg.loss, replicated.nameIn),
    },
    { executionProvider: cfg.backend, lossKernels: cfg.lossKernels },
  );
  const model = bound.model;
  const checkpoint = join(cfg.outDir, "checkpoint.bin");
  const metricsFile = join(cfg.outDir, "metrics.json");
  const stepsPerEpoch = Math.ceil(train.length / batchSize);
  let metrics: EpochMetrics[] = [];
  let startEpoch = 0;
  if (cfg.resume && existsSync(checkpoint)) {
    trainer.loadCheckpoint(checkpoint);
    startEpoch = Math.floor(trainer.step / stepsPerEpoch);
    if (existsSync(metricsFile)) metrics = (JSON.parse(readFileSync(metricsFile, "utf8")) as EpochMetrics[]).filter((m) => m.epoch <= startEpoch);
  }
  if (startEpoch === 0) {
    // Epoch 0: the model as given, so the table shows where training started.
    const before = await evaluateDetector(encodeModel(model), adapter, val);
    metrics = [{ epoch: 0, loss: null, components: {}, ...before.metrics, oLRP: before.oLRP, trainSeconds: 0, imagesPerSecond: 0 }];
    writeFileAtomic(metricsFile, JSON.stringify(metrics, null, 2));
  }
  // The adapter of the exported model (its class set may differ from the given one): for eval/predict.
  writeFileAtomic(join(cfg.outDir, "adapter.json"), JSON.stringify(adapter, null, 2) + "\n");
  writeFileAtomic(join(cfg.outDir, "run.json"), JSON.stringify({ data: cfg.dataDir, adapter, frozen: [...frozen].length, loss: cfg.loss, optimizer: cfg.optimizer, batch: batchSize, lr: cfg.lr, epochs: cfg.epochs, backend: cfg.backend, lossKernels: cfg.lossKernels ?? "body" }, null, 2));
  // The trained weights as an inference model, BatchNorm statistics re-estimated (precise BN).
  const exportCalibrated = async () =>
    encodeModel(await recalibrateBatchNorm(await trainer.exportModel(), () => (bound.input.staticBatch === undefined ? imageBatches(train, adapter, batchSize, 16, bound.input.name) : [])));
  let lastEvaluated: { model: Uint8Array; detections: Detection[] } | undefined;
  for (let epoch = startEpoch; epoch < cfg.epochs; epoch++) {
    const rand = mulberry32((cfg.seed ?? 1) * 1000 + epoch);
    const order = train.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const t0 = performance.now();
    let lossSum = 0;
    const componentSums: Record<string, number> = {};
    for (let s = 0; s < stepsPerEpoch; s++) {
      // A fixed-size batch (static or replicated) is filled up from the start of the epoch's order.
      const fixed = copies > 1 || plan.perCopy !== undefined;
      const picks = Array.from({ length: fixed ? batchSize : Math.min(batchSize, order.length - s * batchSize) }, (_, k) => order[(s * batchSize + k) % order.length]!);
      const batch = makeBatch(picks.map((i) => train[i]!), plan, rand, true);
      // Linear warm-up over the first epoch's steps, then cosine decay to 5% of the rate.
      const step = epoch * stepsPerEpoch + s;
      const total = cfg.epochs * stepsPerEpoch;
      const warm = Math.min(1, (step + 1) / Math.max(1, Math.min(stepsPerEpoch, 20)));
      const lr = cfg.lr * warm * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * step) / total)));
      const loss = await trainer.trainStep(batch.feeds, lr);
      lossSum += loss;
      for (const [k, v] of Object.entries(trainer.lastReport)) componentSums[k] = (componentSums[k] ?? 0) + v;
      const elapsed = (performance.now() - t0) / 1000;
      cfg.onProgress?.({ epoch: epoch + 1, epochs: cfg.epochs, step: s + 1, steps: stepsPerEpoch, loss, report: trainer.lastReport, etaSeconds: (elapsed / (s + 1)) * (stepsPerEpoch - s - 1 + (cfg.epochs - epoch - 1) * stepsPerEpoch) });
    }
    const trainSeconds = (performance.now() - t0) / 1000;
    await trainer.saveCheckpoint(checkpoint, { epoch: epoch + 1, adapter: adapter.name, loss: cfg.loss });
    const calibrated = await exportCalibrated();
    const evaluation = await evaluateDetector(calibrated, adapter, val);
    lastEvaluated = { model: calibrated, detections: evaluation.detections };
    const components = Object.fromEntries(Object.entries(componentSums).map(([k, v]) => [k, v / stepsPerEpoch]));
    metrics.push({ epoch: epoch + 1, loss: lossSum / stepsPerEpoch, components, ...evaluation.metrics, oLRP: evaluation.oLRP, trainSeconds, imagesPerSecond: train.length / trainSeconds });
    writeFileAtomic(metricsFile, JSON.stringify(metrics, null, 2));
  }
  // The last epoch's evaluated model is the final one; a resumed run with nothing left exports anew.
  const finalModel = lastEvaluated?.model ?? (await exportCalibrated());
  writeFileAtomic(join(cfg.outDir, "model.onnx"), finalModel);
  const detections = lastEvaluated?.detections ?? (await evaluateDetector(finalModel, adapter, val)).detections;
  writeFileAtomic(join(cfg.outDir, "evaluation.json"), JSON.stringify({ validationImageIds: val.map((s) => s.imageId), detections }));
  // The exported file is the user's model with trained weights: its own post-processing must give
  // what ranksort's evaluation scored, or the drop-in is wrong — say so loudly.
  if (adapter.modelDetections || bound.native) {
    const check = await checkDropIn(finalModel, adapter, val.slice(0, 16).map((s) => readImage(s.path)));
    writeFileAtomic(join(cfg.outDir, "dropin.json"), JSON.stringify(check, null, 2));
    cfg.onDropIn?.(check);
    if (!check.ok) throw new DropInError(`drop-in check FAILED: ${check.summary} — ${join(cfg.outDir, "model.onnx")}'s own outputs disagree with ranksort's evaluation of it (details: ${join(cfg.outDir, "dropin.json")})`);
  }
  return metrics;
}
