// Fine-tuning an exported detector with RS loss (or Focal + GIoU) on a COCO-format dataset:
// batches, ATSS assignment on the host, one train-step graph per run, evaluation (COCO AP, oLRP)
// after every epoch, a checkpoint per epoch and RUN/metrics.json — written atomically.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadCoco } from "../data/coco.ts";
import { encodeModel } from "../onnx/model_codec.ts";
import { readModel } from "../onnx/model_io.ts";
import type { ExecutionProvider } from "../runtime/session.ts";
import { recalibrateBatchNorm } from "../train/precise_batch_norm.ts";
import { Trainer } from "../train/trainer.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { mulberry32 } from "../util/random.ts";
import { AdapterError, anchorLayout, checkAdapterFitsModel, type DetectorAdapter } from "./adapter.ts";
import { imageBatches, makeBatch, split } from "./detector_batches.ts";
import { detectionLoss } from "./detector_loss.ts";
import { type COCOMetrics, type Detection } from "./evaluate.ts";
import { evaluateDetector } from "./evaluate_detector.ts";

export interface DetectorTrainConfig {
  modelPath: string;
  adapter: DetectorAdapter;
  dataDir: string;
  outDir: string;
  epochs: number;
  batch: number;
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
  /** A separate COCO-format validation set (same categories); then every image of dataDir trains. */
  valDir?: string;
  onProgress?: (p: Progress) => void;
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

export async function trainDetector(cfg: DetectorTrainConfig): Promise<EpochMetrics[]> {
  const dataset = loadCoco(cfg.dataDir);
  if (dataset.categories.length !== cfg.adapter.numClasses) {
    throw new AdapterError(`the dataset has ${dataset.categories.length} categories but the model (${cfg.adapter.name}) predicts ${cfg.adapter.numClasses}`);
  }
  const valSet = cfg.valDir ? loadCoco(cfg.valDir) : undefined;
  if (valSet && valSet.categories.map((c) => c.id).join() !== dataset.categories.map((c) => c.id).join()) {
    throw new AdapterError(`validation set ${cfg.valDir} has category ids ${valSet.categories.map((c) => c.id).join(", ")}; the training set has ${dataset.categories.map((c) => c.id).join(", ")}`);
  }
  const { train, val } = valSet ? { train: dataset.samples, val: valSet.samples } : split(dataset, cfg.valFraction ?? 0.2);
  if (!train.length) throw new Error(`no training images left after holding out ${val.length} for evaluation`);
  const layout = anchorLayout(cfg.adapter);
  const model = readModel(cfg.modelPath);
  checkAdapterFitsModel(
    cfg.adapter,
    model.graph!.output.map((o) => {
      const c = o.type?.value.case === "tensorType" ? o.type.value.value.shape?.dim[1]?.value : undefined;
      return { name: o.name, channels: c?.case === "dimValue" ? Number(c.value) : undefined };
    }),
  );
  const trainer = await Trainer.create(
    { model, optimizer: cfg.optimizer === "sgd" ? { kind: "sgd", momentum: 0.9, weightDecay: 1e-4 } : { kind: "adamw", weightDecay: 1e-4 }, clipGradNorm: 10, loss: detectionLoss(cfg.adapter, cfg.loss) },
    { executionProvider: cfg.backend, lossKernels: cfg.lossKernels },
  );
  const checkpoint = join(cfg.outDir, "checkpoint.bin");
  const metricsFile = join(cfg.outDir, "metrics.json");
  const stepsPerEpoch = Math.ceil(train.length / cfg.batch);
  let metrics: EpochMetrics[] = [];
  let startEpoch = 0;
  if (cfg.resume && existsSync(checkpoint)) {
    trainer.loadCheckpoint(checkpoint);
    startEpoch = Math.floor(trainer.step / stepsPerEpoch);
    if (existsSync(metricsFile)) metrics = (JSON.parse(readFileSync(metricsFile, "utf8")) as EpochMetrics[]).filter((m) => m.epoch <= startEpoch);
  }
  if (startEpoch === 0) {
    // Epoch 0: the model as given, so the table shows where training started.
    const before = await evaluateDetector(encodeModel(model), cfg.adapter, val);
    metrics = [{ epoch: 0, loss: null, components: {}, ...before.metrics, oLRP: before.oLRP, trainSeconds: 0, imagesPerSecond: 0 }];
    writeFileAtomic(metricsFile, JSON.stringify(metrics, null, 2));
  }
  writeFileAtomic(join(cfg.outDir, "run.json"), JSON.stringify({ data: cfg.dataDir, val: cfg.valDir ?? null, valFraction: cfg.valDir ? null : (cfg.valFraction ?? 0.2), seed: cfg.seed ?? 1, adapter: cfg.adapter, loss: cfg.loss, optimizer: cfg.optimizer, batch: cfg.batch, lr: cfg.lr, epochs: cfg.epochs, backend: cfg.backend, lossKernels: cfg.lossKernels ?? "body" }, null, 2));
  // The trained weights as an inference model, BatchNorm statistics re-estimated (precise BN).
  const exportCalibrated = async () => encodeModel(await recalibrateBatchNorm(await trainer.exportModel(), () => imageBatches(train, cfg.adapter, cfg.batch, 16)));
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
      const samples = order.slice(s * cfg.batch, (s + 1) * cfg.batch).map((i) => train[i]!);
      const batch = makeBatch(samples, cfg.adapter, layout, rand, true);
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
    await trainer.saveCheckpoint(checkpoint, { epoch: epoch + 1, adapter: cfg.adapter.name, loss: cfg.loss });
    const calibrated = await exportCalibrated();
    const evaluation = await evaluateDetector(calibrated, cfg.adapter, val);
    lastEvaluated = { model: calibrated, detections: evaluation.detections };
    const components = Object.fromEntries(Object.entries(componentSums).map(([k, v]) => [k, v / stepsPerEpoch]));
    metrics.push({ epoch: epoch + 1, loss: lossSum / stepsPerEpoch, components, ...evaluation.metrics, oLRP: evaluation.oLRP, trainSeconds, imagesPerSecond: train.length / trainSeconds });
    writeFileAtomic(metricsFile, JSON.stringify(metrics, null, 2));
  }
  // The last epoch's evaluated model is the final one; a resumed run with nothing left exports anew.
  const finalModel = lastEvaluated?.model ?? (await exportCalibrated());
  writeFileAtomic(join(cfg.outDir, "model.onnx"), finalModel);
  const detections = lastEvaluated?.detections ?? (await evaluateDetector(finalModel, cfg.adapter, val)).detections;
  writeFileAtomic(join(cfg.outDir, "evaluation.json"), JSON.stringify({ validationImageIds: val.map((s) => s.imageId), detections }));
  return metrics;
}
