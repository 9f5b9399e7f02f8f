// What a run's schedule and result depend on, recorded in its checkpoints: a resume with anything
// different would silently train something else, so it is refused, naming the field (or accepted
// explicitly, for the fields where continuing makes sense).

import { readFileSync, statSync } from "node:fs";
import { RunFolderError, sha256 } from "./run_folder.ts";

export interface RunSignature {
  batch: number;
  epochs: number;
  lr: number;
  optimizer: string;
  loss: string;
  preset: string;
  seed: number;
  valFraction: number;
  /** SHA-256 of the annotations file and every image's name and size. */
  data: string;
  /** SHA-256 of the model file. */
  model: string;
}

/** Fields a resume may change when asked (`--accept-change`); the others fix the step ↔ epoch map or the graph. */
export const ACCEPTABLE_CHANGES = ["epochs", "lr", "data", "model"] as const;

const LABEL: Record<keyof RunSignature, string> = {
  batch: "--batch",
  epochs: "--epochs",
  lr: "--lr",
  optimizer: "--optimizer",
  loss: "--loss",
  preset: "the preset (--preset)",
  seed: "the seed",
  valFraction: "the validation fraction",
  data: "the dataset (--data: annotations or image files differ)",
  model: "the model (--model: a different file)",
};

export function dataFingerprint(annotationsPath: string, imagePaths: string[]): string {
  const h = [sha256(readFileSync(annotationsPath))];
  for (const p of imagePaths) h.push(`${p.split(/[\\/]/).at(-1)}:${statSync(p).size}`);
  return sha256(h.join("\n"));
}

export function modelFingerprint(modelPath: string): string {
  return sha256(readFileSync(modelPath));
}

/** Throw a one-line RunFolderError for the first recorded field that differs and is not accepted. */
export function checkResumeSignature(recorded: unknown, current: RunSignature, accept: readonly string[], where: string): void {
  if (typeof recorded !== "object" || recorded === null) throw new RunFolderError(`--resume: ${where} records no run signature (written by an older ranksort); start a new run`);
  const r = recorded as Record<string, unknown>;
  for (const key of Object.keys(current) as (keyof RunSignature)[]) {
    if (r[key] === current[key]) continue;
    const shown = (v: unknown) => (key === "data" || key === "model" ? String(v).slice(0, 12) : JSON.stringify(v));
    const acceptable = (ACCEPTABLE_CHANGES as readonly string[]).includes(key);
    if (acceptable && accept.includes(key)) continue;
    throw new RunFolderError(
      `--resume: ${LABEL[key]} differs from the run's (${shown(r[key])} there, ${shown(current[key])} now); ` +
        (acceptable ? `pass the same value, or --accept-change ${key} to continue anyway` : `it cannot change within a run; pass the same value or start a new run`),
    );
  }
}
