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
  const config = JSON.parse(readFileSync(join(run, "run.json"), "utf8")) as { data: string; val?: string | null } & Record<string, unknown>;
  const evaluation = JSON.parse(readFileSync(join(run, "evaluation.json"), "utf8"));
  // Validation images come from the separate set when the run had one (--val).
  const dataset = loadCoco(config.val ?? config.data);
  return writeReport({ runDir: run, metrics: readMetrics(run), dataset, detections: evaluation.detections, validationImageIds: evaluation.validationImageIds, settings: config });
}

export async function reportCommand(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new UsageError(`expected one run folder\n\n${reportUsage}`);
  console.log(`wrote ${reportFor(positionals[0]!)}`);
  return 0;
}
