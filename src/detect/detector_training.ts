// Fine-tuning an exported detector with RS loss (or Focal + GIoU) on a COCO-format dataset:
// batches, ATSS assignment on the host, one train-step graph per run, evaluation (COCO AP, oLRP)
// after every epoch, a checkpoint per epoch and RUN/metrics.json — written atomically.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { prepareImage } from "../data/batch.ts";
import { type CocoDataset, loadCoco } from "../data/coco.ts";
import { readImage } from "../data/image.ts";
import type { Value } from "../onnx/builder.ts";
import { encodeModel } from "../onnx/model_codec.ts";
import { readModel } from "../onnx/model_io.ts";
import type { TensorOps } from "../onnx/tensor_ops.ts";
import type { HostTensor } from "../runtime/host_tensor.ts";
import { type ExecutionProvider, RankSortSession } from "../runtime/session.ts";
import { focalLoss, giouLoss } from "../train/losses.ts";
import { recalibrateBatchNorm } from "../train/precise_batch_norm.ts";
import { Trainer } from "../train/trainer.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { mulberry32 } from "../util/random.ts";
import { AdapterError, adapterNormalisation, type AnchorLayout, checkAdapterFitsModel, anchorLayout, classChannels, decodeDeltaInGraph, decodeForAdapter, decodeInGraph, type DetectorAdapter, flattenLevels } from "./adapter.ts";
import { assignATSS, assignMaxIoU, classTargets } from "./assigners.ts";
import { cocoMetrics, type COCOMetrics, type Detection, type GroundTruth, olrp } from "./evaluate.ts";
import { postprocess } from "./postprocess.ts";
import { rsDetectionLoss } from "./rs_detection_loss.ts";

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

interface Batch {
  feeds: Record<string, HostTensor>;
}

function split(ds: CocoDataset, valFraction: number) {
  const nVal = Math.max(1, Math.round(ds.samples.length * valFraction));
  return { train: ds.samples.slice(0, ds.samples.length - nVal), val: ds.samples.slice(ds.samples.length - nVal) };
}

/** Network inputs and assignment targets for a list of samples. */
export function makeBatch(samples: CocoDataset["samples"], adapter: DetectorAdapter, layout: AnchorLayout, rand: () => number, flip: boolean): Batch {
  const S = adapter.imageSize;
  const C = adapter.numClasses;
  const N = layout.strides.length;
  const B = samples.length;
  const images = new Float32Array(B * 3 * S * S);
  const targets = new Float32Array(B * N * C);
  const gtBoxes = new Float32Array(B * N * 4);
  const points = new Float32Array(B * N * 2);
  const strides = new Float32Array(B * N);
  const anchorBoxes = new Float32Array(B * N * 4);
  samples.forEach((s, b) => {
    const img = readImage(s.path);
    const prep = prepareImage(img, s.boxes, S, adapterNormalisation(adapter), flip && rand() < 0.5);
    images.set(prep.pixels, b * 3 * S * S);
    const assignment = adapter.assigner === "max-iou" ? assignMaxIoU(layout.anchors, prep.boxes) : assignATSS(layout.anchors, layout.perLevel, prep.boxes);
    targets.set(classTargets(assignment, s.classes, C), b * N * C);
    for (let a = 0; a < N; a++) {
      const g = assignment.gt[a]!;
      if (g >= 0) gtBoxes.set(prep.boxes.subarray(4 * g, 4 * g + 4), (b * N + a) * 4);
    }
    points.set(layout.points, b * N * 2);
    strides.set(layout.strides, b * N);
    anchorBoxes.set(layout.anchors, b * N * 4);
  });
  const feeds: Record<string, HostTensor> = {
    images: { type: "float32", data: images, dims: [B, 3, S, S] },
    class_targets: { type: "float32", data: targets, dims: [B * N, C] },
    gt_boxes: { type: "float32", data: gtBoxes, dims: [B * N, 4] },
  };
  if (adapter.coder === "delta-xywh") feeds.anchor_boxes = { type: "float32", data: anchorBoxes, dims: [B * N, 4] };
  else {
    feeds.anchor_points = { type: "float32", data: points, dims: [B * N, 2] };
    feeds.anchor_strides = { type: "float32", data: strides, dims: [B * N, 1] };
  }
  return { feeds };
}

/** The loss graph on the model's outputs: RS (the official heads' form) or Focal + GIoU. */
export function detectionLoss(adapter: DetectorAdapter, kind: "rs" | "focal") {
  return (t: TensorOps, outputs: Record<string, Value>, input: (n: string, d: "float32", s: (number | string)[]) => Value): { loss: Value; report: Record<string, Value> } => {
    const C = adapter.numClasses;
    const all = flattenLevels(t, adapter.levels.map((l) => outputs[l.classes]!), classChannels(adapter));
    // SSD-style outputs: drop the background logit in front of each anchor's class logits.
    const logits = adapter.backgroundChannel ? t.e.op1("Slice", [all, t.e.ints([1]), t.e.ints([C + 1]), t.e.ints([1])], {}, { dtype: "float32" }) : all;
    const regression = flattenLevels(t, adapter.levels.map((l) => outputs[l.boxes]!), 4);
    const targets = input("class_targets", "float32", ["M", C]);
    const gtBoxes = input("gt_boxes", "float32", ["M", 4]);
    const boxes =
      adapter.coder === "delta-xywh"
        ? decodeDeltaInGraph(t, regression, input("anchor_boxes", "float32", ["M", 4]))
        : decodeInGraph(t, regression, input("anchor_points", "float32", ["M", 2]), input("anchor_strides", "float32", ["M", 1]));
    if (kind === "rs") {
      const l = rsDetectionLoss(t, { logits, boxes, gtBoxes, classTargets: targets });
      return { loss: l.total, report: { ranking: l.ranking, sorting: l.sorting, box: l.box, lambda: l.lambda } };
    }
    const f = (v: number) => t.scalar("float32", v);
    const positive = t.cast(t.equal(t.reduceMax(targets, [1]), f(1)), "float32");
    const numPositives = t.max(t.reduceSum(positive), f(1));
    const cls = focalLoss(t, logits, targets, numPositives);
    const box = giouLoss(t, boxes, gtBoxes, positive);
    return { loss: t.add(cls, t.mul(box, f(2))), report: { focal: cls, box } };
  };
}

/** Network inputs for up to `maxBatches` batches of `samples` (no augmentation): BatchNorm calibration. */
function imageBatches(samples: CocoDataset["samples"], adapter: DetectorAdapter, batch: number, maxBatches: number): Record<string, HostTensor>[] {
  const S = adapter.imageSize;
  const out: Record<string, HostTensor>[] = [];
  for (let i = 0; i + batch <= samples.length && out.length < maxBatches; i += batch) {
    const images = new Float32Array(batch * 3 * S * S);
    samples.slice(i, i + batch).forEach((s, b) => images.set(prepareImage(readImage(s.path), s.boxes, S, adapterNormalisation(adapter)).pixels, b * 3 * S * S));
    out.push({ images: { type: "float32", data: images, dims: [batch, 3, S, S] } });
  }
  return out;
}

/** COCO AP and oLRP of `modelBytes` on `samples` (original image coordinates). */
export async function evaluateDetector(modelBytes: Uint8Array, adapter: DetectorAdapter, samples: CocoDataset["samples"], batch = 8): Promise<{ metrics: ReturnType<typeof cocoMetrics>; oLRP: number; detections: Detection[] }> {
  const layout = anchorLayout(adapter);
  const session = await RankSortSession.create(modelBytes, { executionProvider: "cpu" });
  checkAdapterFitsModel(adapter, session.outputNames.map((name) => ({ name })));
  const C = adapter.numClasses;
  const N = layout.strides.length;
  const detections: Detection[] = [];
  const gts: GroundTruth[] = [];
  for (let i = 0; i < samples.length; i += batch) {
    const chunk = samples.slice(i, i + batch);
    const S = adapter.imageSize;
    const images = new Float32Array(chunk.length * 3 * S * S);
    const scales: number[] = [];
    chunk.forEach((s, b) => {
      const prep = prepareImage(readImage(s.path), s.boxes, S, adapterNormalisation(adapter));
      images.set(prep.pixels, b * 3 * S * S);
      scales.push(prep.scale);
      for (let k = 0; k < s.classes.length; k++) gts.push({ image: s.imageId, category: s.classes[k]!, box: Array.from(s.boxes.subarray(4 * k, 4 * k + 4)) as [number, number, number, number] });
    });
    const out = await session.run({ images: { type: "float32", data: images, dims: [chunk.length, 3, S, S] } });
    chunk.forEach((s, b) => {
      const scores = new Float32Array(N * C);
      const reg = new Float32Array(N * 4);
      let offset = 0;
      adapter.levels.forEach((l) => {
        const cls = out[l.classes]!;
        const box = out[l.boxes]!;
        const [H, W] = [cls.dims[2]!, cls.dims[3]!];
        const K = classChannels(adapter);
        const skip = K - C; // a background logit first (SSD)
        const A = cls.dims[1]! / K; // anchors per location; channel = a·K + c, anchor order (y, x, a)
        const cd = cls.data as Float32Array;
        const bd = box.data as Float32Array;
        for (let p = 0; p < H * W; p++) {
          for (let a = 0; a < A; a++) {
            const row = offset + p * A + a;
            for (let c = 0; c < C; c++) scores[row * C + c] = 1 / (1 + Math.exp(-cd[(b * A * K + a * K + skip + c) * H * W + p]!));
            for (let k = 0; k < 4; k++) reg[row * 4 + k] = bd[(b * A * 4 + a * 4 + k) * H * W + p]!;
          }
        }
        offset += H * W * A;
      });
      const boxes = decodeForAdapter(adapter, reg, layout);
      for (const d of postprocess(scores, boxes, C)) {
        const k = 1 / scales[b]!;
        detections.push({ image: s.imageId, category: d.classIndex, score: d.score, box: [d.box[0] * k, d.box[1] * k, d.box[2] * k, d.box[3] * k] });
      }
    });
  }
  return { metrics: cocoMetrics(detections, gts), oLRP: olrp(detections, gts).oLRP, detections };
}

export async function trainDetector(cfg: DetectorTrainConfig): Promise<EpochMetrics[]> {
  const dataset = loadCoco(cfg.dataDir);
  if (dataset.categories.length !== cfg.adapter.numClasses) {
    throw new AdapterError(`the dataset has ${dataset.categories.length} categories but the model (${cfg.adapter.name}) predicts ${cfg.adapter.numClasses}`);
  }
  const { train, val } = split(dataset, cfg.valFraction ?? 0.2);
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
  writeFileAtomic(join(cfg.outDir, "run.json"), JSON.stringify({ data: cfg.dataDir, adapter: cfg.adapter, loss: cfg.loss, optimizer: cfg.optimizer, batch: cfg.batch, lr: cfg.lr, epochs: cfg.epochs, backend: cfg.backend, lossKernels: cfg.lossKernels ?? "body" }, null, 2));
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
