// `ranksort eval`: COCO bbox AP/AR and oLRP (pycocotools / LRP-Error numbers) of a COCO results
// file, or of an exported detector on a COCO-format dataset.

import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { DatasetError, loadCoco } from "../../data/coco.ts";
import { ModelFormatError } from "../../onnx/model_codec.ts";
import { loadAdapter } from "../../detect/adapter.ts";
import { readGroundTruthFile, readResultsFile } from "../../detect/coco_files.ts";
import { type COCOMetrics, cocoMetrics, type EvaluationOptions } from "../../detect/evaluate.ts";
import { evaluateDetector } from "../../detect/evaluate_detector.ts";
import { UsageError } from "../usage_error.ts";

export const evalUsage = `ranksort eval --annotations ann.json --detections results.json [--json] [--olrp-ties every-detection|score-threshold] [--honour-ignore]
ranksort eval --model m.onnx --preset P --data DIR [--json]

COCO bbox AP, AP50, AP75, AP_S/M/L, AR1/10/100, AR_S/M/L (as pycocotools' COCOeval) and oLRP with
its localisation, FP and FN components and per-class LRP-optimal thresholds (as the official
LRP-Error code). --detections takes any COCO results file: [{"image_id", "category_id", "bbox":
[x, y, w, h], "score"}, ...]. --model runs a detector on every image of DIR instead. Prints a table;
--json prints the metrics as one JSON object (undefined values are −1, shown "—" in the table).
--olrp-ties score-threshold evaluates oLRP only where the score drops (independent of how ties are
ordered); --honour-ignore treats ignore: 1 annotations like crowd regions (pycocotools drops the flag).`;

const fmt = (v: number) => (v < 0 ? "—" : v.toFixed(3));

/** The metrics as a readable table, and per-category LRP-optimal thresholds. */
export function metricsTable(m: COCOMetrics, header: string, categoryName: (key: string) => string): string {
  const rows: [string, number | undefined, string, number | undefined, string, number][] = [
    ["AP @[.50:.95]", m.AP, "AR maxDets 1", m.AR1, "oLRP", m.oLRP],
    ["AP50", m.AP50, "AR maxDets 10", m.AR10, "oLRP localisation", m.oLRPLocalisation],
    ["AP75", m.AP75, "AR maxDets 100", m.AR100, "oLRP FP", m.oLRPFalsePositive],
    ["AP small", m.APs, "AR small", m.ARs, "oLRP FN", m.oLRPFalseNegative],
    ["AP medium", m.APm, "AR medium", m.ARm, "oLRP small", m.oLRPs],
    ["AP large", m.APl, "AR large", m.ARl, "oLRP medium", m.oLRPm],
    ["", undefined, "", undefined, "oLRP large", m.oLRPl],
  ];
  const cell = (label: string, v: number | undefined, width: number) => `${label.padEnd(width)} ${v === undefined ? "      " : fmt(v).padStart(6)}`;
  const lines = [header, ...rows.map(([a, x, b, y, c, z]) => `  ${cell(a, x, 14)}    ${cell(b, y, 15)}    ${cell(c, z, 18)}`.trimEnd())];
  lines.push("  (AP and AR at IoU .50:.95 and maxDets 100 unless named; oLRP at IoU .50. — is undefined: no ground truth, or no true positive for an oLRP component)");
  const keys = Object.keys(m.oLRPThresholds);
  if (keys.length) {
    lines.push("", "  LRP-optimal score threshold per category (— where it has no true positive or no ground truth):");
    const width = Math.max(...keys.map((k) => categoryName(k).length), 8);
    for (const k of keys) lines.push(`    ${categoryName(k).padEnd(width)}  ${fmt(m.oLRPThresholds[k]!)}`);
  }
  return lines.join("\n");
}

export async function evalCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      annotations: { type: "string" },
      detections: { type: "string" },
      model: { type: "string" },
      preset: { type: "string" },
      data: { type: "string" },
      json: { type: "boolean", default: false },
      "olrp-ties": { type: "string" },
      "honour-ignore": { type: "boolean", default: false },
    },
  });
  const ties = values["olrp-ties"];
  if (ties !== undefined && ties !== "every-detection" && ties !== "score-threshold") throw new UsageError(`--olrp-ties must be every-detection or score-threshold, got ${ties}`);
  const options: EvaluationOptions = { olrpTies: ties, honourIgnore: values["honour-ignore"] };
  if (values.annotations !== undefined || values.detections !== undefined) {
    if (!values.annotations || !values.detections) throw new UsageError(`--annotations and --detections go together\n\n${evalUsage}`);
    if (values.model || values.preset || values.data) throw new UsageError(`give either --annotations/--detections or --model/--preset/--data, not both\n\n${evalUsage}`);
    const gt = readGroundTruthFile(values.annotations);
    const detections = readResultsFile(values.detections, gt);
    if (gt.zeroIdAnnotations) console.error(`note: ${values.annotations} has an annotation with id 0; pycocotools counts a detection matched to it as a false positive (it marks "unmatched" with id 0), ranksort counts the match`);
    const metrics = cocoMetrics(detections, gt.groundTruth, { ...options, categories: gt.categories.map((c) => c.id) });
    const names = new Map(gt.categories.map((c) => [String(c.id), `${c.name} (${c.id})`]));
    if (values.json) console.log(JSON.stringify({ ...metrics, images: gt.imageIds.size, detections: detections.length }));
    else console.log(metricsTable(metrics, `COCO bbox evaluation: ${gt.imageIds.size} images, ${gt.categories.length} categories, ${gt.groundTruth.length} annotations, ${detections.length} detections`, (k) => names.get(k) ?? k));
    return 0;
  }
  for (const k of ["model", "preset", "data"] as const) if (!values[k]) throw new UsageError(`--${k} is required (or give --annotations and --detections)\n\n${evalUsage}`);
  if (values["olrp-ties"] || values["honour-ignore"]) throw new UsageError("--olrp-ties and --honour-ignore apply to --annotations/--detections evaluation");
  if (!existsSync(values.model!)) throw new UsageError(`--model ${values.model}: no such file`);
  const ds = loadCoco(values.data!);
  if (!ds.samples.some((s) => s.classes.length)) throw new DatasetError(`${values.data}: no image has an annotation; AP and oLRP are undefined without ground truth`);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(values.model!));
  } catch (e) {
    throw new ModelFormatError(`cannot read model ${values.model}: ${(e as Error).message}`);
  }
  const r = await evaluateDetector(bytes, loadAdapter(values.preset!), ds.samples, 8, basename(values.model!));
  if (values.json) console.log(JSON.stringify({ ...r.metrics, images: ds.samples.length, detections: r.detections.length }));
  else console.log(metricsTable(r.metrics, `${values.model} on ${values.data}: ${ds.samples.length} images, ${r.detections.length} detections`, (k) => ds.categories[Number(k)]?.name ?? k));
  return 0;
}
