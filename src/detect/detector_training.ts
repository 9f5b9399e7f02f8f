// Fine-tuning an exported detector with RS loss (or Focal + GIoU) on a COCO-format dataset:
// batches, ATSS assignment on the host, one train-step graph per run, evaluation (COCO AP, oLRP)
// after every epoch. Each epoch's checkpoint, metrics, model and evaluation are committed together
// (run_folder.ts); a diverged step is discarded and stops the run; a signal commits mid-epoch.

import { mkdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { DatasetError, loadCoco } from "../data/coco.ts";
import { encodeModel } from "../onnx/model_codec.ts";
import { readModel } from "../onnx/model_io.ts";
import type { ExecutionProvider } from "../runtime/session.ts";
import { recalibrateBatchNorm } from "../train/precise_batch_norm.ts";
import { checkpointChunks, readCheckpoint } from "../train/checkpoint.ts";
import { clearRunFolder, commitRunFiles, holdsRun, lockRunFolder, readCommitted, recoverRunFolder, RunFolderError, type RunState } from "../train/run_folder.ts";
import { checkResumeSignature, dataFingerprint, modelFingerprint, type RunSignature } from "../train/run_signature.ts";
import { InterruptedError, watchStopSignals } from "../train/stop_signals.ts";
import { DivergenceError } from "../train/trainer.ts";
import { fileWriteError, writeFileAtomic } from "../util/atomic_write.ts";
import { readImage } from "../data/image.ts";
import { AdapterError, type DetectorAdapter } from "./adapter.ts";
import { imageBatches, makeBatch, split } from "./detector_batches.ts";
import { createDetectorTrainer, releaseTrainedWeights, resolveBatch } from "./detector_trainer.ts";

export { resolveBatch };
import { bindDetector, type BoundDetector } from "./detector_binding.ts";
import { fitClassSet } from "./class_sets.ts";
import { checkDropIn, type DropInCheck, DropInError } from "./dropin_check.ts";
import { epochOrder, stepLearningRate, stepPicks, stepRandom } from "./train_schedule.ts";
import type { CocoDataset, DetectionSample } from "../data/coco.ts";
import type { COCOMetrics } from "./evaluate.ts";
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
  /** Train steps per session run (the Trainer's default when undefined); results do not depend on it. */
  stepsPerRun?: number;
  /** Continue the run in outDir from its last commit (its signature must match, see run_signature.ts). */
  resume?: boolean;
  /** Replace a run already in outDir (otherwise refused). */
  overwrite?: boolean;
  /** Signature fields a resume may change (ACCEPTABLE_CHANGES). */
  acceptChanges?: string[];
  /** Stop on SIGINT/SIGTERM at the next step, committing progress (the CLI sets it). */
  handleSignals?: boolean;
  seed?: number;
  /** Fraction of images held out for evaluation (the last ones). Default 0.2. */
  valFraction?: number;
  /** A separate COCO-format validation set (same categories); then every image of dataDir trains. */
  valDir?: string;
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

export async function trainDetector(cfg: DetectorTrainConfig): Promise<EpochMetrics[]> {
  const dataset = loadCoco(cfg.dataDir);
  const label = basename(cfg.modelPath);
  // The dataset's class set: the model's own, a subset by name, or a new class branch (--new-classes).
  const bound = await fitClassSet(await bindDetector(readModel(cfg.modelPath), cfg.adapter, label), dataset.categories.map((c) => c.name), { newClasses: cfg.newClasses, seed: cfg.seed }, label);
  const batchSize = resolveBatch(bound, cfg.batch, label);
  const valSet = cfg.valDir ? loadCoco(cfg.valDir) : undefined;
  if (valSet && valSet.categories.map((c) => c.id).join() !== dataset.categories.map((c) => c.id).join()) {
    throw new AdapterError(`validation set ${cfg.valDir} has category ids ${valSet.categories.map((c) => c.id).join(", ")}; the training set has ${dataset.categories.map((c) => c.id).join(", ")}`);
  }
  const { train, val } = valSet ? { train: dataset.samples, val: valSet.samples } : split(dataset, cfg.valFraction ?? 0.2);
  const n = dataset.samples.length;
  if (!train.length) throw new DatasetError(`${cfg.dataDir} has ${n} image${n === 1 ? "" : "s"}; training needs at least 2 (the last ${val.length} ${val.length === 1 ? "is" : "are"} held out for evaluation)`);
  if (!train.some((s) => s.classes.length)) throw new DatasetError(`${cfg.dataDir}: none of the ${train.length} training images has an annotation: nothing to learn`);
  if (!val.some((s) => s.classes.length)) console.warn(`ranksort: WARNING: none of the ${val.length} held-out validation images has an annotation; AP and oLRP will be meaningless`);
  const dir = cfg.outDir;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw fileWriteError(dir, e);
  }
  const release = lockRunFolder(dir);
  const stop = cfg.handleSignals ? watchStopSignals((sig) => console.error(`\nranksort: ${sig} received: stopping after this step and committing a checkpoint (again to exit at once)`)) : undefined;
  try {
    let state = recoverRunFolder(dir);
    if (cfg.resume && !state) throw new RunFolderError(holdsRun(dir) ? `--resume: ${dir} has no state.json (written by an older ranksort?); start a new run` : `--resume: ${dir} holds no run to resume; drop --resume to start one`);
    if (!cfg.resume && (state || holdsRun(dir))) {
      if (!cfg.overwrite) {
        const what = state ? (state.epoch >= state.epochs ? `a finished run (${state.epoch} epochs)` : `a run (epoch ${state.epoch} of ${state.epochs} committed)`) : "a run";
        throw new RunFolderError(`${dir} already holds ${what}; pass --resume to continue it, --overwrite to replace it, or another --out`);
      }
      clearRunFolder(dir);
      state = undefined;
    }
    const metrics = await runEpochs(cfg, bound, batchSize, dataset, train, val, state, stop);
    // The exported file is the user's model with trained weights: its own post-processing must give
    // what ranksort's evaluation scored, or the drop-in is wrong — say so loudly.
    if (bound.adapter.modelDetections || bound.native) {
      const model = new Uint8Array(readFileSync(join(dir, "model.onnx")));
      const check = await checkDropIn(model, bound.adapter, val.slice(0, 16).map((s) => readImage(s.path)));
      writeFileAtomic(join(dir, "dropin.json"), JSON.stringify(check, null, 2));
      cfg.onDropIn?.(check);
      if (!check.ok) throw new DropInError(`drop-in check FAILED: ${check.summary} — ${join(dir, "model.onnx")}'s own outputs disagree with ranksort's evaluation of it (details: ${join(dir, "dropin.json")})`);
    }
    return metrics;
  } finally {
    stop?.dispose();
    release();
  }
}

async function runEpochs(cfg: DetectorTrainConfig, bound: BoundDetector, batchSize: number, dataset: CocoDataset, train: DetectionSample[], val: DetectionSample[], committed: RunState | undefined, stop: { signal: NodeJS.Signals | undefined } | undefined): Promise<EpochMetrics[]> {
  const dir = cfg.outDir;
  const adapter = bound.adapter;
  const model = bound.model;
  const { trainer, plan, copies, frozen } = await createDetectorTrainer(bound, { batchSize, optimizer: cfg.optimizer, loss: cfg.loss, backend: cfg.backend, lossKernels: cfg.lossKernels, freeze: cfg.freeze, stepsPerRun: cfg.stepsPerRun });
  const seed = cfg.seed ?? 1;
  const signature: RunSignature = {
    batch: batchSize, epochs: cfg.epochs, lr: cfg.lr, optimizer: cfg.optimizer, loss: cfg.loss, preset: adapter.name, seed, valFraction: cfg.valFraction ?? 0.2,
    data: dataFingerprint(join(cfg.dataDir, "annotations.json"), dataset.samples.map((s) => s.path)),
    model: modelFingerprint(cfg.modelPath),
  };
  const checkpointPath = join(dir, "checkpoint.bin");
  const stepsPerEpoch = Math.ceil(train.length / batchSize);
  const runJson = JSON.stringify({ data: cfg.dataDir, val: cfg.valDir ?? null, valFraction: cfg.valDir ? null : (cfg.valFraction ?? 0.2), seed, adapter, frozen: frozen.size, loss: cfg.loss, optimizer: cfg.optimizer, batch: batchSize, lr: cfg.lr, epochs: cfg.epochs, backend: cfg.backend, lossKernels: cfg.lossKernels ?? "body", stepsPerRun: trainer.stepsPerRun }, null, 2);
  // The adapter of the exported model (its class set may differ from the given one): for eval/predict.
  const adapterJson = JSON.stringify(adapter, null, 2) + "\n";
  const checkpointBytes = async () => checkpointChunks(await trainer.checkpoint({ adapter: adapter.name, loss: cfg.loss, run: signature }));
  let metrics: EpochMetrics[];
  let state: RunState;
  if (committed) {
    readCommitted(dir, committed, "checkpoint.bin"); // its checksum against the commit record
    const ckpt = readCheckpoint(checkpointPath);
    checkResumeSignature(ckpt.config.run, signature, cfg.acceptChanges ?? [], checkpointPath);
    trainer.restore(ckpt, checkpointPath);
    if (committed.epoch > cfg.epochs) throw new RunFolderError(`--resume: ${dir} already has ${committed.epoch} epochs committed, more than --epochs ${cfg.epochs}`);
    const expected = committed.partial?.step ?? committed.epoch * stepsPerEpoch;
    if (ckpt.step !== expected) throw new RunFolderError(`--resume: ${checkpointPath} is at step ${ckpt.step}, but ${dir} committed ${committed.partial ? `step ${expected}` : `epoch ${committed.epoch} (${expected} steps of ${stepsPerEpoch} per epoch)`}`);
    try {
      metrics = JSON.parse(readCommitted(dir, committed, "metrics.json").toString("utf8"));
    } catch (e) {
      throw e instanceof RunFolderError ? e : new RunFolderError(`${join(dir, "metrics.json")} is damaged (${(e as Error).message})`);
    }
    if (!Array.isArray(metrics) || metrics.map((m) => m?.epoch).join() !== Array.from({ length: committed.epoch + 1 }, (_, i) => i).join()) {
      throw new RunFolderError(`${join(dir, "metrics.json")} does not hold epochs 0…${committed.epoch} as ${join(dir, "state.json")} records`);
    }
    state = committed;
    if (state.epochs !== cfg.epochs) state = { ...state, epochs: cfg.epochs };
  } else {
    // Epoch 0: the model as given, so the table shows where training started.
    const modelBytes = encodeModel(model); // one encoding for the evaluation and the commit
    const before = await evaluateDetector(modelBytes, adapter, val);
    metrics = [{ epoch: 0, loss: null, components: {}, ...before.metrics, oLRP: before.oLRP, trainSeconds: 0, imagesPerSecond: 0 }];
    state = commitRunFiles(dir, {
      "checkpoint.bin": await checkpointBytes(), "metrics.json": JSON.stringify(metrics, null, 2), "model.onnx": modelBytes,
      "evaluation.json": JSON.stringify({ validationImageIds: val.map((s) => s.imageId), detections: before.detections }), "run.json": runJson, "adapter.json": adapterJson,
    }, { epoch: 0, epochs: cfg.epochs });
  }
  // From here on the weights are the trainer's alone.
  releaseTrainedWeights(bound, trainer);
  // The trained weights as an inference model, BatchNorm statistics re-estimated (precise BN).
  let firstStep = true;
  const exportCalibrated = async () =>
    encodeModel(await recalibrateBatchNorm(await trainer.exportModel(), () => (bound.input.staticBatch === undefined ? imageBatches(train, adapter, batchSize, 16, bound.input.name) : [])));
  try {
    for (let epoch = state.epoch; epoch < cfg.epochs; epoch++) {
      const order = epochOrder(train.length, seed, epoch);
      // Progress within the epoch: restored when an interrupted epoch's steps were committed.
      const progress = state.partial ? structuredClone(state.partial) : { step: 0, lossSum: 0, componentSums: {} as Record<string, number>, trainSeconds: 0 };
      const commitPartial = async (signal: NodeJS.Signals): Promise<never> => {
        state = commitRunFiles(dir, { "checkpoint.bin": await checkpointBytes() }, { epoch, epochs: cfg.epochs, partial: { ...progress, step: trainer.step } }, state);
        const at = trainer.step - epoch * stepsPerEpoch;
        throw new InterruptedError(signal, `interrupted by ${signal} at step ${trainer.step} (epoch ${epoch + 1}, ${at} of ${stepsPerEpoch} steps done); checkpoint committed in ${dir}; continue with the same flags and --resume`);
      };
      const t0 = performance.now();
      // Steps go to the trainer in runs of up to `stepsPerRun` (one session run each on the CPU), never
      // past the epoch's end; an interrupt is seen between runs.
      for (let first = trainer.step - epoch * stepsPerEpoch; first < stepsPerEpoch; ) {
        if (stop?.signal) {
          progress.trainSeconds += (performance.now() - t0) / 1000;
          await commitPartial(stop.signal);
        }
        const run = Array.from({ length: Math.min(trainer.stepsPerRun, stepsPerEpoch - first) }, (_, i) => first + i);
        const batches = run.map((s) => makeBatch(stepPicks(order, s, batchSize, copies > 1 || plan.perCopy !== undefined).map((i) => train[i]!), plan, stepRandom(seed, epoch, s), true));
        const lrs = run.map((s) => stepLearningRate(cfg.lr, epoch * stepsPerEpoch + s, stepsPerEpoch, cfg.epochs * stepsPerEpoch));
        const diverged = (e: DivergenceError, discarded: string) => {
          const s = e.step - 1 - epoch * stepsPerEpoch;
          return new DivergenceError(e.step, e.learningRate, `${e.what} (epoch ${epoch + 1}, step ${s + 1} of ${stepsPerEpoch})`, `${discarded}. The last good epoch is ${state.epoch}: ${join(dir, "checkpoint.bin")} and model.onnx are intact. Lower --lr (${cfg.lr} now) and start again, or continue with --resume --lr X --accept-change lr`);
        };
        let losses: number[];
        try {
          losses = await trainer.trainSteps(batches.map((b) => b.feeds), lrs);
        } catch (e) {
          if (e instanceof DivergenceError) throw diverged(e, "the step was discarded");
          // onnxruntime rejecting the very first step: the model's heads do not match the preset's layout.
          if (firstStep && /Non-zero status code|invalid dimensions|broadcast/i.test((e as Error).message)) {
            throw new AdapterError(`${cfg.modelPath} does not fit the preset ${adapter.name}: onnxruntime rejected the first train step (${(e as Error).message.split("\n")[0]!.slice(0, 300)})`);
          }
          throw e;
        }
        firstStep = false;
        const last = run.at(-1)!;
        // The epoch's last update is only seen by the next forward: run one (discarded) before committing.
        if (last === stepsPerEpoch - 1) {
          const after = await trainer.lossAt(batches.at(-1)!.feeds);
          if (!Number.isFinite(after)) throw diverged(new DivergenceError(trainer.step, lrs.at(-1)!, `the loss after the update is ${after}`), "the epoch was not committed");
        }
        losses.forEach((loss, i) => {
          const s = run[i]!;
          const report = trainer.stepReports[i]!;
          progress.lossSum += loss;
          for (const [k, v] of Object.entries(report)) progress.componentSums[k] = (progress.componentSums[k] ?? 0) + v;
          const elapsed = progress.trainSeconds + (performance.now() - t0) / 1000;
          cfg.onProgress?.({ epoch: epoch + 1, epochs: cfg.epochs, step: s + 1, steps: stepsPerEpoch, loss, report, etaSeconds: (elapsed / (s + 1)) * (stepsPerEpoch - s - 1 + (cfg.epochs - epoch - 1) * stepsPerEpoch) });
        });
        first = last + 1;
      }
      const trainSeconds = progress.trainSeconds + (performance.now() - t0) / 1000;
      if (stop?.signal) {
        progress.trainSeconds = trainSeconds;
        await commitPartial(stop.signal);
      }
      const calibrated = await exportCalibrated();
      const evaluation = await evaluateDetector(calibrated, adapter, val);
      const components = Object.fromEntries(Object.entries(progress.componentSums).map(([k, v]) => [k, v / stepsPerEpoch]));
      metrics.push({ epoch: epoch + 1, loss: progress.lossSum / stepsPerEpoch, components, ...evaluation.metrics, oLRP: evaluation.oLRP, trainSeconds, imagesPerSecond: train.length / trainSeconds });
      state = commitRunFiles(dir, {
        "checkpoint.bin": await checkpointBytes(), "metrics.json": JSON.stringify(metrics, null, 2), "model.onnx": calibrated,
        "evaluation.json": JSON.stringify({ validationImageIds: val.map((s) => s.imageId), detections: evaluation.detections }), "run.json": runJson, "adapter.json": adapterJson,
      }, { epoch: epoch + 1, epochs: cfg.epochs }, state);
    }
  } finally {
    // The drop-in check and the report come next: the train session's memory goes first.
    await trainer.release();
  }
  return metrics;
}
