// The page: gathers the model, dataset and settings, starts the training worker, and shows what it
// reports. window.__app mirrors the run's state (for the end-to-end test and the curious).

import { checkAdapterFields, type DetectorAdapter, PRESETS } from "ranksort/detect";
import { folderDataset, sampleDataset, zipDataset, type DatasetFiles } from "./dataset_sources.ts";
import type { EpochRow, Evaluation, FromWorker, RunInputs, ToWorker, TrainSettings } from "./protocol.ts";
import { discardRun, savedModel, savedProgress } from "./run_store.ts";
import { describeError } from "./describe_error.ts";
import { download, drawLossCurve, duration, pictureFigure, renderMetrics } from "./view.ts";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

interface AppState {
  phase: "idle" | "starting" | "training" | "paused" | "done" | "error";
  backend?: string;
  backendDetail?: string;
  metrics: EpochRow[];
  losses: number[];
  evaluation?: Evaluation;
  error?: string;
  step: number;
  restoredAtStep?: number;
  predictions: number;
}
const state: AppState = { phase: "idle", metrics: [], losses: [], step: 0, predictions: 0 };
(window as unknown as { __app: AppState }).__app = state;

let stepsPerEpoch = 1;
let trainedModel: Uint8Array | undefined;
let runSettings: TrainSettings | undefined;
let runLabel = { model: "", data: "" };
const worker = new Worker(new URL("./train_worker.js", import.meta.url), { type: "module" });
const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);

function showError(message: string | undefined): void {
  const box = $("error");
  box.hidden = !message;
  box.textContent = message ?? "";
  state.error = message;
  if (message) {
    box.scrollIntoView({ block: "nearest" });
  }
}

function setPhase(phase: AppState["phase"]): void {
  state.phase = phase;
  const running = phase === "training" || phase === "paused" || phase === "starting";
  $<HTMLButtonElement>("start").disabled = running;
  $<HTMLButtonElement>("pause").disabled = !(phase === "training" || phase === "paused");
  $("pause").textContent = phase === "paused" ? "Continue" : "Pause";
  for (const id of ["epochs", "batch", "lr", "optimizer", "backend-choice", "seed"]) $<HTMLInputElement>(id).disabled = running;
  $<HTMLButtonElement>("download-model").disabled = !trainedModel;
  $<HTMLButtonElement>("download-metrics").disabled = !state.metrics.length;
}

function settings(): TrainSettings {
  const num = (id: string, what: string, integer: boolean, min: number) => {
    const v = Number($<HTMLInputElement>(id).value);
    if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) throw new Error(`${what} must be ${integer ? "an integer" : "a number"} ≥ ${min}, got "${$<HTMLInputElement>(id).value}"`);
    return v;
  };
  const lr = num("lr", "the learning rate", false, 0);
  if (lr <= 0) throw new Error("the learning rate must be greater than 0");
  return {
    epochs: num("epochs", "epochs", true, 1),
    batch: num("batch", "the batch size", true, 1),
    lr,
    optimizer: $<HTMLSelectElement>("optimizer").value as TrainSettings["optimizer"],
    seed: num("seed", "the seed", true, 0),
    backend: $<HTMLSelectElement>("backend-choice").value as TrainSettings["backend"],
  };
}

const checked = (name: string) => (document.querySelector(`input[name=${name}]:checked`) as HTMLInputElement).value;

async function chosenModel(): Promise<{ name: string; bytes: Uint8Array; adapter: DetectorAdapter }> {
  if (checked("model") === "bundled") {
    const res = await fetch("models/tiny_fcos_128.onnx");
    if (!res.ok) throw new Error(`the bundled model is missing (${res.status} for ${res.url})`);
    return { name: "tiny_fcos_128.onnx", bytes: new Uint8Array(await res.arrayBuffer()), adapter: PRESETS["tiny-fcos"]! };
  }
  const file = $<HTMLInputElement>("model-file").files?.[0];
  if (!file) throw new Error("choose your .onnx file, or the bundled model");
  const adapterFile = $<HTMLInputElement>("adapter-file").files?.[0];
  let adapter: DetectorAdapter;
  if (adapterFile) {
    let json: unknown;
    try {
      json = JSON.parse(await adapterFile.text());
    } catch (e) {
      throw new Error(`${adapterFile.name} is not JSON (${(e as Error).message})`);
    }
    adapter = checkAdapterFields(json, adapterFile.name);
  } else adapter = PRESETS[$<HTMLSelectElement>("preset").value]!;
  return { name: file.name, bytes: new Uint8Array(await file.arrayBuffer()), adapter };
}

async function chosenDataset(): Promise<{ name: string; files: DatasetFiles }> {
  const kind = checked("data");
  if (kind === "sample") return { name: "sample", files: await sampleDataset(new URL("sample/", location.href).href) };
  if (kind === "folder") {
    const list = $<HTMLInputElement>("data-folder").files;
    if (!list?.length) throw new Error("choose a dataset folder (annotations.json and images/)");
    return { name: list[0]!.webkitRelativePath.split("/")[0] || "folder", files: await folderDataset(list) };
  }
  const zip = $<HTMLInputElement>("data-zip").files?.[0];
  if (!zip) throw new Error("choose a dataset .zip (annotations.json and images/ inside)");
  return { name: zip.name, files: await zipDataset(zip) };
}

async function start(): Promise<void> {
  showError(undefined);
  setPhase("starting");
  try {
    const s = settings();
    const [model, data] = await Promise.all([chosenModel(), chosenDataset()]);
    const inputs: RunInputs = { modelName: model.name, modelBytes: model.bytes, adapter: model.adapter, datasetName: data.name, datasetFiles: data.files, settings: s };
    beginRunView(s, model.name, data.name);
    $("status").textContent = "starting …";
    send({ type: "start", inputs });
  } catch (e) {
    setPhase("idle");
    showError(describeError(e));
  }
}

/** The settings of a restored run, back in their fields. */
function showSettings(s: TrainSettings): void {
  for (const [id, v] of [["epochs", s.epochs], ["batch", s.batch], ["lr", s.lr], ["optimizer", s.optimizer], ["backend-choice", s.backend], ["seed", s.seed]] as const) $<HTMLInputElement>(id).value = String(v);
}

function beginRunView(s: TrainSettings, model: string, data: string): void {
  runSettings = s;
  runLabel = { model, data };
  trainedModel = undefined;
  state.metrics = [];
  state.losses = [];
  state.step = 0;
  $("resume").hidden = true;
  $("pictures").replaceChildren();
  renderMetrics($<HTMLTableElement>("metrics"), []);
  drawLossCurve($("loss-curve") as unknown as SVGSVGElement, [], 1);
  setBar(0);
}

function setBar(fraction: number): void {
  $("bar-fill").style.width = `${(100 * fraction).toFixed(1)}%`;
  document.querySelector(".bar")!.setAttribute("aria-valuenow", (100 * fraction).toFixed(0));
}

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case "backend":
      state.backend = m.backend;
      state.backendDetail = m.detail;
      $("backend").dataset.backend = m.backend;
      $("backend").textContent = `backend: ${m.detail}`;
      setPhase("training");
      break;
    case "status":
      $("status").textContent = m.text;
      break;
    case "progress":
      state.step = m.globalStep;
      stepsPerEpoch = m.steps;
      state.losses.push(m.loss);
      setBar(m.globalStep / m.totalSteps);
      $("status").textContent = `epoch ${m.epoch} of ${m.epochs} · step ${m.step} of ${m.steps} · loss ${m.loss.toFixed(3)} · ETA ${duration(m.etaSeconds)}`;
      drawLossCurve($("loss-curve") as unknown as SVGSVGElement, state.losses, stepsPerEpoch);
      break;
    case "restored":
      showSettings(m.settings);
      beginRunView(m.settings, m.modelName, m.datasetName);
      state.restoredAtStep = m.step;
      state.losses = [...m.losses];
      state.step = m.step;
      break;
    case "epoch":
      state.metrics = m.metrics;
      state.losses = [...m.losses];
      state.evaluation = m.evaluation;
      renderMetrics($<HTMLTableElement>("metrics"), m.metrics);
      drawLossCurve($("loss-curve") as unknown as SVGSVGElement, state.losses, stepsPerEpoch);
      $("pictures").replaceChildren(...m.pictures.map(pictureFigure));
      setPhase(state.phase);
      break;
    case "paused":
      setPhase("paused");
      $("status").textContent = `paused at step ${m.step}; the checkpoint is saved (a reload resumes from here)`;
      break;
    case "done": {
      trainedModel = m.model;
      state.metrics = m.metrics;
      setBar(1);
      const last = m.metrics[m.metrics.length - 1]!;
      $("status").textContent = `done: ${last.epoch} epochs · AP50 ${m.metrics[0]!.AP50.toFixed(3)} → ${last.AP50.toFixed(3)} · AP ${last.AP.toFixed(3)} · oLRP ${last.oLRP.toFixed(3)}`;
      setPhase("done");
      break;
    }
    case "predicted":
      state.predictions++;
      $("prediction").replaceChildren(pictureFigure(m.picture));
      break;
    case "error":
      showError(m.message);
      setPhase(state.phase === "done" ? "done" : "error");
      break;
  }
};
worker.onerror = (e) => {
  showError(`the training worker failed: ${e.message || "it could not start (is this page served over http://, with its ort/ folder?)"}`);
  setPhase("error");
};

function togglePause(): void {
  if (state.phase === "training") {
    send({ type: "pause" });
    $<HTMLButtonElement>("pause").disabled = true;
  } else if (state.phase === "paused") {
    send({ type: "continue" });
    setPhase("training");
  }
}

async function predictFile(): Promise<void> {
  showError(undefined);
  const file = $<HTMLInputElement>("predict-file").files?.[0];
  if (!file) return;
  send({ type: "predict", name: file.name, bytes: new Uint8Array(await file.arrayBuffer()) });
}

/** A run saved in this browser: offer to resume it (or its results, when it finished). */
async function offerSavedRun(): Promise<void> {
  const saved = await savedProgress().catch(() => undefined);
  if (!saved) return;
  if (saved.finished) {
    trainedModel = await savedModel();
    state.metrics = saved.metrics;
    renderMetrics($<HTMLTableElement>("metrics"), saved.metrics);
    drawLossCurve($("loss-curve") as unknown as SVGSVGElement, saved.losses, saved.stepsPerEpoch);
    $("status").textContent = `the last run (${saved.modelName} on ${saved.datasetName}) finished ${saved.epoch} epochs; its model can be downloaded`;
    setPhase("idle");
    return;
  }
  const at = saved.partial ? `epoch ${saved.epoch + 1}, step ${saved.partial.step - saved.epoch * saved.stepsPerEpoch} of ${saved.stepsPerEpoch}` : `${saved.epoch} of ${saved.epochs} epochs done`;
  $("resume-text").textContent = `An unfinished run is saved in this browser: ${saved.modelName} on ${saved.datasetName}, ${at}.`;
  $("resume").hidden = false;
}

$("start").addEventListener("click", () => void start());
$("pause").addEventListener("click", togglePause);
$("predict-file").addEventListener("change", () => void predictFile());
$("resume-run").addEventListener("click", () => {
  showError(undefined);
  $("resume").hidden = true;
  setPhase("starting");
  send({ type: "resume-saved" });
});
$("discard-run").addEventListener("click", () => void discardRun().then(() => ($("resume").hidden = true)));
$("download-model").addEventListener("click", () => trainedModel && download(trainedModel, runLabel.model ? runLabel.model.replace(/\.onnx$/, "") + "_ranksort.onnx" : "model.onnx", "application/octet-stream"));
$("download-metrics").addEventListener("click", () => download(JSON.stringify({ model: runLabel.model, dataset: runLabel.data, settings: runSettings, backend: state.backendDetail, epochs: state.metrics }, null, 2), "metrics.json", "application/json"));
for (const r of document.querySelectorAll<HTMLInputElement>("input[name=model]")) r.addEventListener("change", () => ($("own-model").hidden = checked("model") !== "own"));
$("preset").replaceChildren(...Object.keys(PRESETS).map((p) => Object.assign(document.createElement("option"), { value: p, textContent: p })));
fetch("sample/files.json").then((r) => r.json()).then((f: string[]) => ($("sample-size").textContent = `(${f.length - 1} synthetic images, 3 shapes)`)).catch(() => {});
renderMetrics($<HTMLTableElement>("metrics"), []);
drawLossCurve($("loss-curve") as unknown as SVGSVGElement, [], 1);
setPhase("idle");
void offerSavedRun();
