// Messages between the page (main.ts) and the training worker (train_worker.ts).

import type { DetectorAdapter } from "ranksort/detect";

export interface TrainSettings {
  epochs: number;
  batch: number;
  lr: number;
  optimizer: "sgd" | "adamw";
  seed: number;
  /** "auto": WebGPU where the browser has an adapter, else WASM. */
  backend: "auto" | "webgpu" | "wasm";
}

/** What a run trains: the model and dataset bytes, kept with the run so a reload can resume it. */
export interface RunInputs {
  modelName: string;
  modelBytes: Uint8Array;
  adapter: DetectorAdapter;
  datasetName: string;
  /** Dataset files by path relative to the dataset root: annotations.json, images/… */
  datasetFiles: [string, Uint8Array][];
  settings: TrainSettings;
}

export interface EpochRow {
  epoch: number;
  loss: number | null;
  AP: number;
  AP50: number;
  AP75: number;
  oLRP: number;
  trainSeconds: number;
  imagesPerSecond: number;
}

/** An RGB image with boxes drawn, for a canvas. */
export interface Picture {
  width: number;
  height: number;
  rgb: Uint8Array;
  caption: string;
}

export interface Evaluation {
  validationImageIds: number[];
  detections: { image: number; category: number; score: number; box: number[] }[];
}

export type ToWorker =
  | { type: "start"; inputs: RunInputs }
  | { type: "resume-saved" }
  | { type: "pause" }
  | { type: "continue" }
  | { type: "predict"; name: string; bytes: Uint8Array };

export type FromWorker =
  | { type: "backend"; backend: "webgpu" | "wasm"; detail: string }
  | { type: "status"; text: string }
  | { type: "progress"; epoch: number; epochs: number; step: number; steps: number; loss: number; etaSeconds: number; globalStep: number; totalSteps: number }
  | { type: "epoch"; metrics: EpochRow[]; losses: number[]; pictures: Picture[]; evaluation: Evaluation }
  | { type: "paused"; step: number }
  | { type: "restored"; metrics: EpochRow[]; losses: number[]; step: number; settings: TrainSettings; modelName: string; datasetName: string }
  | { type: "done"; model: Uint8Array; metrics: EpochRow[] }
  | { type: "predicted"; picture: Picture; detections: number }
  | { type: "error"; message: string };
