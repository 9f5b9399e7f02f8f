// `ranksort report RUN`: RUN/report.html from a training run folder.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadCoco } from "../../data/coco.ts";
import { readMetrics, writeReport } from "../../detect/report.ts";
import { UsageError } from "../usage_error.ts";

export const reportUsage = `ranksort report RUN

Writes RUN/report.html (opens offline): loss curves, AP/AP50/AP75/oLRP per epoch, precision–recall
curves of the final model, and validation images with predicted and ground-truth boxes. RUN is a
folder written by ranksort train or ranksort demo.`;

export function reportFor(run: string): string {
  for (const f of ["metrics.json", "run.json", "evaluation.json"]) {
    if (!existsSync(join(run, f))) throw new UsageError(`${run} has no ${f}: is it a finished ranksort train/demo run folder?`);
  }
  const config = readJson(run, "run.json") as { data?: unknown; val?: unknown } & Record<string, unknown>;
  const evaluation = readJson(run, "evaluation.json") as { detections?: unknown; validationImageIds?: unknown };
  const metrics = readJson(run, "metrics.json");
  if (typeof config?.data !== "string") throw new UsageError(`${join(run, "run.json")} names no dataset ("data")`);
  if (!Array.isArray(evaluation?.detections) || !Array.isArray(evaluation.validationImageIds)) throw new UsageError(`${join(run, "evaluation.json")} lacks "detections" or "validationImageIds"`);
  if (!Array.isArray(metrics) || !metrics.every((m) => typeof m?.epoch === "number")) throw new UsageError(`${join(run, "metrics.json")} is not a list of epoch rows`);
  // Validation images come from the separate set when the run had one (--val).
  const dataset = loadCoco(typeof config.val === "string" ? config.val : config.data);
  return writeReport({ runDir: run, metrics: readMetrics(run), dataset, detections: evaluation.detections, validationImageIds: evaluation.validationImageIds, settings: config });
}

function readJson(run: string, file: string): unknown {
  try {
    return JSON.parse(readFileSync(join(run, file), "utf8"));
  } catch (e) {
    throw new UsageError(`${join(run, file)} is damaged (${(e as Error).message})`);
  }
}

export async function reportCommand(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new UsageError(`expected one run folder\n\n${reportUsage}`);
  console.log(`wrote ${reportFor(positionals[0]!)}`);
  return 0;
}
