// The run in IndexedDB: its inputs (model, adapter, dataset, settings) once, then a checkpoint
// after every epoch, on pause and every few seconds. Each checkpoint and its progress record are
// written in one transaction, so a reload finds either the old commit or the new one, never half;
// a SHA-256 (Web Crypto) of the tensor data catches a damaged record on restore.

import type { HostTensor } from "ranksort/train";
import type { EpochRow, Evaluation, RunInputs } from "./protocol.ts";

const DB = "ranksort-app";
const RUN = "current";

export interface SavedProgress {
  /** Epochs committed (0: only the model as given was evaluated). */
  epoch: number;
  epochs: number;
  stepsPerEpoch: number;
  /** Progress inside the next epoch, when it was interrupted mid-way. */
  partial: { step: number; lossSum: number; trainSeconds: number } | null;
  metrics: EpochRow[];
  /** Every step's loss so far (the loss curve). */
  losses: number[];
  evaluation: Evaluation | null;
  finished: boolean;
  modelName: string;
  datasetName: string;
}

export interface SavedCheckpoint {
  step: number;
  config: Record<string, unknown>;
  tensors: Record<string, HostTensor>;
  sha256: string;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      for (const store of ["inputs", "progress", "checkpoint", "model"]) req.result.createObjectStore(store);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(`the browser refused its storage (IndexedDB): ${req.error?.message}`));
  });
}

async function transact<T>(stores: string[], mode: IDBTransactionMode, work: (t: IDBTransaction) => IDBRequest | void): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const t = db.transaction(stores, mode);
      const req = work(t);
      t.oncomplete = () => resolve((req ? req.result : undefined) as T);
      t.onerror = () => reject(new Error(`saving the run failed (IndexedDB: ${t.error?.message}); the browser's storage may be full`));
      t.onabort = () => reject(new Error(`saving the run failed (IndexedDB: ${t.error?.message ?? "aborted"}); the browser's storage may be full`));
    });
  } finally {
    db.close();
  }
}

/** SHA-256 (hex) of the tensors' bytes in name order. */
export async function tensorDigest(tensors: Record<string, HostTensor>): Promise<string> {
  const names = Object.keys(tensors).sort();
  const total = names.reduce((n, k) => n + tensors[k]!.data.byteLength, 0);
  const all = new Uint8Array(total);
  let at = 0;
  for (const k of names) {
    const d = tensors[k]!.data;
    all.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Start a new run: forget the old one, keep the inputs and the first progress record. */
export async function beginRun(inputs: RunInputs, progress: SavedProgress, ckpt: SavedCheckpoint): Promise<void> {
  await transact(["inputs", "progress", "checkpoint", "model"], "readwrite", (t) => {
    t.objectStore("model").delete(RUN);
    t.objectStore("inputs").put(inputs, RUN);
    t.objectStore("checkpoint").put(ckpt, RUN);
    t.objectStore("progress").put(progress, RUN);
  });
}

/** Commit a checkpoint with the progress it belongs to (and the trained model, after an epoch). */
export async function commit(progress: SavedProgress, ckpt: SavedCheckpoint, model?: Uint8Array): Promise<void> {
  await transact(["progress", "checkpoint", "model"], "readwrite", (t) => {
    t.objectStore("checkpoint").put(ckpt, RUN);
    t.objectStore("progress").put(progress, RUN);
    if (model) t.objectStore("model").put(model, RUN);
  });
}

export function savedProgress(): Promise<SavedProgress | undefined> {
  return transact(["progress"], "readonly", (t) => t.objectStore("progress").get(RUN));
}

export function savedInputs(): Promise<RunInputs | undefined> {
  return transact(["inputs"], "readonly", (t) => t.objectStore("inputs").get(RUN));
}

export function savedCheckpoint(): Promise<SavedCheckpoint | undefined> {
  return transact(["checkpoint"], "readonly", (t) => t.objectStore("checkpoint").get(RUN));
}

export function savedModel(): Promise<Uint8Array | undefined> {
  return transact(["model"], "readonly", (t) => t.objectStore("model").get(RUN));
}

export async function discardRun(): Promise<void> {
  await transact(["inputs", "progress", "checkpoint", "model"], "readwrite", (t) => {
    for (const s of ["inputs", "progress", "checkpoint", "model"]) t.objectStore(s).delete(RUN);
  });
}
