// The training worker: the page never freezes while a detector trains. It trains with the same
// pieces as `ranksort train` (binding, batches, train step, schedule, evaluation) over the dataset
// held in memory, on onnxruntime-web's WebGPU EP or its WASM EP, and commits checkpoints to
// IndexedDB so pause, resume and a reloaded tab continue the run.

import * as ortWasm from "onnxruntime-web";
import * as ortWebGpu from "onnxruntime-web/webgpu";
import { decodeModel, encodeModel, type ExecutionProvider, Trainer } from "ranksort";
import {
  AdapterError, bindDetector, type BoundDetector, clearMemoryFiles, createDetectorTrainer, DatasetError, decodeImage, type DetectionSample, DetectorRunner, drawBoxes,
  epochOrder, evaluateDetector, imageBatches, loadCoco, makeBatch, putMemoryFiles, readImage, resolveBatch, split, stepLearningRate, stepPicks, stepRandom,
} from "ranksort/detect";
import { recalibrateBatchNorm } from "ranksort/train";
import type { EpochRow, Evaluation, FromWorker, Picture, RunInputs, ToWorker, TrainSettings } from "./protocol.ts";
import { describeError } from "./describe_error.ts";
import { beginRun, commit, savedCheckpoint, savedInputs, savedModel, savedProgress, type SavedCheckpoint, type SavedProgress, tensorDigest } from "./run_store.ts";

// onnxruntime-web's .wasm files are served beside the app under ort/ (nothing is fetched from elsewhere).
const ortFiles = new URL("./ort/", self.location.href).href;
ortWasm.env.wasm.wasmPaths = ortFiles;
ortWebGpu.env.wasm.wasmPaths = ortFiles;

const DATASET_ROOT = "/dataset";
/** Commit a mid-epoch checkpoint at most this often: a reload loses at most these seconds. */
const CHECKPOINT_EVERY_MS = 3000;
const PICTURES = 4;
/** Boxes drawn on the pictures: a young model's scores are low, so the bar is too. */
const SHOW_SCORE = 0.1;

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

let pauseRequested = false;
let resumePaused: (() => void) | undefined;
let busy = false;
/** The latest trained model for predict: its bytes, adapter, backend and category names. */
let current: { model: Uint8Array; bound: BoundDetector; ep: ExecutionProvider; names: string[]; runner?: DetectorRunner } | undefined;

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === "pause") pauseRequested = true;
  else if (m.type === "continue") {
    pauseRequested = false;
    resumePaused?.();
  } else if (m.type === "predict") guard(() => predict(m.name, m.bytes));
  else if (busy) post({ type: "error", message: "a run is already training in this tab" });
  else if (m.type === "start") guard(() => train(m.inputs, false));
  else if (m.type === "resume-saved") guard(async () => {
    const inputs = await savedInputs();
    if (!inputs) throw new Error("there is no saved run to resume (the browser's storage was cleared?)");
    await train(inputs, true);
  });
};

async function guard(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (e) {
    post({ type: "error", message: describeError(e) });
  }
}

/** WebGPU with the adapter's name where the browser has one, else WASM with the reason. */
async function pickBackend(choice: TrainSettings["backend"]): Promise<{ ep: ExecutionProvider; detail: string }> {
  if (choice === "wasm") return { ep: "wasm", detail: "WASM (chosen in the settings)" };
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  let reason: string;
  if (!gpu) reason = "this browser has no WebGPU (navigator.gpu is missing in workers)";
  else {
    const adapter = await gpu.requestAdapter().catch(() => null);
    if (adapter) {
      const info = adapter.info;
      const name = info?.description || [info?.vendor, info?.architecture, info?.device].filter(Boolean).join(" ") || "unnamed adapter";
      return { ep: "webgpu", detail: `WebGPU on ${name}` };
    }
    reason = "WebGPU is present but the browser offered no GPU adapter";
  }
  if (choice === "webgpu") throw new Error(`WebGPU was chosen but ${reason}; choose Auto or WASM`);
  return { ep: "wasm", detail: `WASM, because ${reason}` };
}

function checkData(inputs: RunInputs, bound: BoundDetector, train: DetectionSample[], val: DetectionSample[], categories: number) {
  const C = bound.adapter.numClasses;
  if (categories !== C) throw new AdapterError(`the dataset ${inputs.datasetName} has ${categories} categories but ${inputs.modelName} (${bound.adapter.name}) predicts ${C}`);
  if (!train.length) throw new DatasetError(`${inputs.datasetName} has ${train.length + val.length} image(s); training needs at least 2 (the last ${val.length} are held out for evaluation)`);
  if (!train.some((s) => s.classes.length)) throw new DatasetError(`${inputs.datasetName}: none of the ${train.length} training images has an annotation: nothing to learn`);
}

async function checkpointRecord(trainer: Trainer, settings: TrainSettings, inputs: RunInputs): Promise<SavedCheckpoint> {
  const ckpt = await trainer.checkpoint({ adapter: inputs.adapter.name, loss: "rs", run: { ...settings, model: inputs.modelName, data: inputs.datasetName } });
  return { ...ckpt, sha256: await tensorDigest(ckpt.tensors) };
}

/** The validation images with the model's detections (solid) and the annotations (dashed). */
function pictures(val: DetectionSample[], evaluation: Evaluation, names: string[]): Picture[] {
  return val.slice(0, PICTURES).map((s) => {
    const found = evaluation.detections.filter((d) => d.image === s.imageId && d.score >= SHOW_SCORE).slice(0, 8);
    const truth = s.annotations.map((a) => ({ box: [a.bbox[0], a.bbox[1], a.bbox[0] + a.bbox[2], a.bbox[1] + a.bbox[3]], classIndex: a.classIndex, dashed: true }));
    const img = drawBoxes(readImage(s.path), [...truth, ...found.map((d) => ({ box: d.box, classIndex: d.category, score: d.score }))]);
    const caption = found.length ? found.slice(0, 3).map((d) => `${names[d.category]} ${d.score.toFixed(2)}`).join(", ") : `no detection ≥ ${SHOW_SCORE}`;
    return { width: img.width, height: img.height, rgb: img.data, caption: `image ${s.imageId}: ${caption}` };
  });
}

async function evaluate(model: Uint8Array, bound: BoundDetector, val: DetectionSample[], ep: ExecutionProvider, label: string) {
  const r = await evaluateDetector(model, bound.adapter, val, 8, label, ep);
  return { r, evaluation: { validationImageIds: val.map((s) => s.imageId), detections: r.detections.map((d) => ({ image: d.image, category: d.category, score: d.score, box: [...d.box] })) } };
}

function row(epoch: number, loss: number | null, r: Awaited<ReturnType<typeof evaluate>>["r"], trainSeconds: number, images: number): EpochRow {
  const m = r.metrics as unknown as Record<string, number>;
  return { epoch, loss, AP: m.AP!, AP50: m.AP50!, AP75: m.AP75!, oLRP: r.oLRP, trainSeconds, imagesPerSecond: trainSeconds ? images / trainSeconds : 0 };
}

async function train(inputs: RunInputs, resume: boolean): Promise<void> {
  busy = true;
  pauseRequested = false;
  try {
    const s = inputs.settings;
    const { ep, detail } = await pickBackend(s.backend);
    post({ type: "backend", backend: ep === "webgpu" ? "webgpu" : "wasm", detail });
    post({ type: "status", text: "checking the dataset and the model …" });
    clearMemoryFiles(DATASET_ROOT);
    putMemoryFiles(inputs.datasetFiles.map(([p, b]) => [`${DATASET_ROOT}/${p}`, b]));
    let dataset: ReturnType<typeof loadCoco>;
    try {
      dataset = loadCoco(DATASET_ROOT, `${DATASET_ROOT}/annotations.json`, `${DATASET_ROOT}/images`);
    } catch (e) {
      // The loader names files by their in-memory paths: name them by the dataset the user picked.
      throw e instanceof Error ? new DatasetError(e.message.replaceAll(`${DATASET_ROOT}/`, `${inputs.datasetName}/`)) : e;
    }
    const names = dataset.categories.map((c) => c.name);
    const bound = await bindDetector(decodeModel(inputs.modelBytes, inputs.modelName), inputs.adapter, inputs.modelName);
    const batchSize = resolveBatch(bound, s.batch, inputs.modelName);
    const { train, val } = split(dataset, 0.2);
    checkData(inputs, bound, train, val, dataset.categories.length);
    post({ type: "status", text: `building the train step on ${ep === "webgpu" ? "WebGPU" : "WASM"} …` });
    const { trainer, plan, copies } = await createDetectorTrainer(bound, { batchSize, optimizer: s.optimizer, loss: "rs", backend: ep, lossKernels: "body" });
    const stepsPerEpoch = Math.ceil(train.length / batchSize);
    const totalSteps = s.epochs * stepsPerEpoch;
    let progress: SavedProgress;
    let evaluation: Evaluation;
    if (resume) {
      const [saved, ckpt] = await Promise.all([savedProgress(), savedCheckpoint()]);
      if (!saved || !ckpt) throw new Error("the saved run has no checkpoint; start a new run");
      if ((await tensorDigest(ckpt.tensors)) !== ckpt.sha256) throw new Error("the saved checkpoint is damaged (its SHA-256 does not match); discard the run and start again");
      trainer.restore(ckpt, "the saved checkpoint");
      const expected = saved.partial?.step ?? saved.epoch * stepsPerEpoch;
      if (ckpt.step !== expected) throw new Error(`the saved checkpoint is at step ${ckpt.step} but its progress record says step ${expected}; discard the run`);
      progress = saved;
      evaluation = saved.evaluation!;
      post({ type: "restored", metrics: saved.metrics, losses: saved.losses, step: ckpt.step, settings: s, modelName: inputs.modelName, datasetName: inputs.datasetName });
    } else {
      post({ type: "status", text: "evaluating the model as given (epoch 0) …" });
      const before = await evaluate(encodeModel(bound.model), bound, val, ep, inputs.modelName);
      evaluation = before.evaluation;
      progress = { epoch: 0, epochs: s.epochs, stepsPerEpoch, partial: null, metrics: [row(0, null, before.r, 0, 0)], losses: [], evaluation, finished: false, modelName: inputs.modelName, datasetName: inputs.datasetName };
      await beginRun(inputs, progress, await checkpointRecord(trainer, s, inputs));
    }
    post({ type: "epoch", metrics: progress.metrics, losses: progress.losses, pictures: pictures(val, evaluation, names), evaluation });
    const calibrate = async () => encodeModel(await recalibrateBatchNorm(await trainer.exportModel(), () => (bound.input.staticBatch === undefined ? imageBatches(train, bound.adapter, batchSize, 16, bound.input.name) : []), "wasm"));
    let model = encodeModel(bound.model);
    for (let epoch = progress.epoch; epoch < s.epochs; epoch++) {
      const order = epochOrder(train.length, s.seed, epoch);
      const part = progress.partial ?? { step: epoch * stepsPerEpoch, lossSum: 0, trainSeconds: 0 };
      let t0 = performance.now();
      let lastCommit = t0;
      let stepsThisSession = 0;
      const saveMidEpoch = async () => {
        part.trainSeconds += (performance.now() - t0) / 1000;
        t0 = performance.now();
        progress = { ...progress, partial: { ...part, step: trainer.step } };
        await commit(progress, await checkpointRecord(trainer, s, inputs));
        lastCommit = performance.now();
      };
      for (let k = trainer.step - epoch * stepsPerEpoch; k < stepsPerEpoch; k++) {
        if (pauseRequested) {
          await saveMidEpoch();
          post({ type: "paused", step: trainer.step });
          await new Promise<void>((r) => (resumePaused = r));
          resumePaused = undefined;
          t0 = performance.now();
        }
        const picks = stepPicks(order, k, batchSize, copies > 1 || plan.perCopy !== undefined);
        const batch = makeBatch(picks.map((i) => train[i]!), plan, stepRandom(s.seed, epoch, k), true);
        const loss = await trainer.trainStep(batch.feeds, stepLearningRate(s.lr, epoch * stepsPerEpoch + k, stepsPerEpoch, totalSteps));
        // The epoch's last update is only seen by the next forward: the CLI checks it the same way.
        if (k === stepsPerEpoch - 1) {
          const after = await trainer.lossAt(batch.feeds);
          if (!Number.isFinite(after)) throw new Error(`training diverged: the loss after epoch ${epoch + 1}'s last update is ${after}; lower the learning rate (${s.lr} now) and start again`);
        }
        part.lossSum += loss;
        progress.losses.push(loss);
        stepsThisSession++;
        const elapsed = (performance.now() - t0) / 1000;
        const done = trainer.step;
        post({ type: "progress", epoch: epoch + 1, epochs: s.epochs, step: k + 1, steps: stepsPerEpoch, loss, globalStep: done, totalSteps, etaSeconds: (elapsed / stepsThisSession) * (totalSteps - done) });
        if (k < stepsPerEpoch - 1 && performance.now() - lastCommit > CHECKPOINT_EVERY_MS) await saveMidEpoch();
      }
      const trainSeconds = part.trainSeconds + (performance.now() - t0) / 1000;
      post({ type: "status", text: `evaluating epoch ${epoch + 1} …` });
      model = await calibrate();
      const after = await evaluate(model, bound, val, ep, inputs.modelName);
      evaluation = after.evaluation;
      const metrics = [...progress.metrics, row(epoch + 1, part.lossSum / stepsPerEpoch, after.r, trainSeconds, train.length)];
      progress = { ...progress, epoch: epoch + 1, partial: null, metrics, evaluation, finished: epoch + 1 === s.epochs };
      await commit(progress, await checkpointRecord(trainer, s, inputs), model);
      current = { model, bound, ep, names };
      post({ type: "epoch", metrics, losses: progress.losses, pictures: pictures(val, evaluation, names), evaluation });
    }
    if (!current) current = { model: await calibrate(), bound, ep, names };
    post({ type: "done", model: current.model.slice(), metrics: progress.metrics });
  } finally {
    busy = false;
  }
}

/** The last run's trained model from IndexedDB (a reloaded tab), with its dataset's category names. */
async function savedTrainedModel(): Promise<typeof current> {
  const [model, inputs] = await Promise.all([savedModel(), savedInputs()]);
  if (!model || !inputs) return undefined;
  const annotations = inputs.datasetFiles.find(([p]) => p === "annotations.json")?.[1];
  const categories: { id: number; name: string }[] = annotations ? JSON.parse(new TextDecoder().decode(annotations)).categories : [];
  const bound = await bindDetector(decodeModel(model, "the trained model"), inputs.adapter);
  const ep = (await pickBackend(inputs.settings.backend).catch(() => ({ ep: "wasm" as const }))).ep;
  return { model, bound, ep, names: [...categories].sort((a, b) => a.id - b.id).map((c) => c.name) };
}

async function predict(name: string, bytes: Uint8Array): Promise<void> {
  current ??= await savedTrainedModel();
  if (!current) throw new Error("train a model first (at least one epoch): predict uses the trained model");
  const image = decodeImage(bytes, name);
  current.runner ??= await DetectorRunner.fromBinding(await bindDetector(decodeModel(current.model, "the trained model"), current.bound.adapter), { executionProvider: current.ep });
  const [found] = await current.runner.detect([image]);
  const shown = found!.filter((d) => d.score >= SHOW_SCORE).slice(0, 20);
  const drawn = drawBoxes(image, shown.map((d) => ({ box: d.box, classIndex: d.classIndex, score: d.score })));
  const caption = shown.length ? shown.slice(0, 4).map((d) => `${current!.names[d.classIndex]} ${d.score.toFixed(2)}`).join(", ") : `no detection ≥ ${SHOW_SCORE}`;
  post({ type: "predicted", detections: shown.length, picture: { width: drawn.width, height: drawn.height, rgb: drawn.data, caption: `${name}: ${caption}` } });
}
