// Local parity check of src/detect/evaluate.ts against pycocotools' COCOeval and the authors'
// LRP-Error oLRP on random COCO cases (integer boxes at the 32²/96² area edges, IoUs exactly at
// thresholds, score ties within and across images, crowds, `ignore` flags, duplicates, > 100
// detections per image, images and categories without ground truth) plus the repros of issue 15.
// Needs both reference tools built in place (see ../shared/ENVIRONMENT.md); not a CI test.
//
//   bun bench/coco_eval_parity.ts [--cases 300] [--seed 1] [--model m.onnx --preset tiny-fcos --data DIR]
// --model adds a real detector's evaluation (evaluateDetector on every image of DIR, the path
// `ranksort train` takes) as two more cases: its own scores, and scores rounded to 0.01 (ties).
//   env PYCOCOTOOLS_DIR (default /tmp/i15ref/coco/PythonAPI), LRP_ERROR_DIR (default /tmp/i15ref/lrp)

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadCoco } from "../src/data/coco.ts";
import { loadAdapter } from "../src/detect/adapter.ts";
import { readGroundTruthFile, readResultsFile } from "../src/detect/coco_files.ts";
import { evaluateDetector } from "../src/detect/evaluate_detector.ts";
import { type COCOMetrics, cocoMetrics } from "../src/detect/evaluate.ts";
import { mulberry32 } from "../src/util/random.ts";

type Box = [number, number, number, number];
interface Case {
  gt: { images: { id: number; width: number; height: number; file_name: string }[]; categories: { id: number; name: string }[]; annotations: Record<string, unknown>[] };
  res: { image_id: number; category_id: number; bbox: Box; score: number }[];
}

const { values } = parseArgs({ options: { cases: { type: "string", default: "300" }, seed: { type: "string", default: "1" }, model: { type: "string" }, preset: { type: "string", default: "tiny-fcos" }, data: { type: "string" } } });
const rand = mulberry32(Number(values.seed));
const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

/** Sizes whose areas sit on or next to pycocotools' 32² and 96² edges. */
const EDGE_SIZES: [number, number][] = [[32, 32], [16, 64], [31, 33], [33, 31], [96, 96], [48, 192], [95, 97], [1, 1024], [32, 33], [96, 95]];

function randomBox(integer: boolean): Box {
  if (rand() < 0.35) {
    const [w, h] = pick(EDGE_SIZES);
    return [int(0, 300), int(0, 300), w, h];
  }
  if (integer) return [int(0, 400), int(0, 400), int(1, 160), int(1, 160)];
  const r2 = (v: number) => Math.round(v * 100) / 100;
  return [r2(rand() * 400), r2(rand() * 400), r2(1 + rand() * 160), r2(1 + rand() * 160)];
}

function jitter(b: Box, integer: boolean): Box {
  const u = rand();
  if (u < 0.3) return [...b];
  if (u < 0.5) return [b[0], b[1], b[2], Math.max(1, Math.round(b[3] * pick([0.85, 0.75, 0.5, 0.95, 0.9, 0.7])))]; // IoU on a threshold
  if (integer || u < 0.75) return [b[0] + int(-6, 6), b[1] + int(-6, 6), Math.max(1, b[2] + int(-6, 6)), Math.max(1, b[3] + int(-6, 6))];
  return [b[0] + (rand() - 0.5) * 8, b[1] + (rand() - 0.5) * 8, b[2] * (0.8 + rand() * 0.4), b[3] * (0.8 + rand() * 0.4)];
}

function randomCase(): Case {
  const integer = rand() < 0.6;
  const imageIds = Array.from({ length: int(1, 6) }, (_, i) => 10 * (i + 1) + int(0, 9)).sort(() => rand() - 0.5);
  const categoryIds = [...new Set(Array.from({ length: int(1, 4) }, () => int(1, 9)))].sort(() => rand() - 0.5);
  const score = () => {
    const s = rand();
    return rand() < 0.5 ? Math.round(s * 10) / 10 : rand() < 0.5 ? Math.round(s * 100) / 100 : s;
  };
  const many = rand() < 0.15;
  const annotations: Record<string, unknown>[] = [];
  const res: Case["res"] = [];
  for (const image of imageIds) {
    const nGt = rand() < 0.2 ? 0 : int(1, 8);
    for (let k = 0; k < nGt; k++) {
      const crowd = rand() < 0.12;
      const bbox = crowd ? [int(0, 200), int(0, 200), int(80, 250), int(80, 250)] as Box : randomBox(integer);
      const category = pick(categoryIds);
      const area = rand() < 0.7 ? bbox[2] * bbox[3] : bbox[2] * bbox[3] * (0.5 + rand() * 0.5);
      annotations.push({ id: annotations.length + 1, image_id: image, category_id: category, bbox, area, iscrowd: crowd ? 1 : 0, ...(rand() < 0.05 ? { ignore: 1 } : {}) });
      const copies = rand() < 0.7 ? (rand() < 0.15 ? 2 : 1) : 0;
      for (let c = 0; c < copies; c++) {
        const d = crowd ? [bbox[0] + int(0, 40), bbox[1] + int(0, 40), int(10, 60), int(10, 60)] as Box : jitter(bbox, integer);
        res.push({ image_id: image, category_id: rand() < 0.9 ? category : pick(categoryIds), bbox: d, score: score() });
      }
    }
    const nFp = many ? int(100, 130) : int(0, 5);
    for (let k = 0; k < nFp; k++) res.push({ image_id: image, category_id: pick(categoryIds), bbox: randomBox(integer), score: score() });
  }
  res.sort(() => rand() - 0.5);
  return {
    gt: { images: imageIds.map((id) => ({ id, width: 640, height: 640, file_name: `${id}.png` })), categories: categoryIds.map((id) => ({ id, name: `c${id}` })), annotations },
    res: rand() < 0.03 ? [] : res,
  };
}

/** The repros of issue 15, each one case. */
function reproCases(): Case[] {
  const cat = [{ id: 1, name: "a" }];
  const img = (...ids: number[]) => ids.map((id) => ({ id, width: 640, height: 640, file_name: `${id}.png` }));
  const gtAnn = (id: number, image: number, bbox: Box, iscrowd = 0) => ({ id, image_id: image, category_id: 1, bbox, area: bbox[2] * bbox[3], iscrowd });
  const det = (image: number, bbox: Box, score: number) => ({ image_id: image, category_id: 1, bbox, score });
  const twenty = Array.from({ length: 20 }, (_, i) => gtAnn(i + 1, 1, [50 * i, 0, 40, 40]));
  const scores = [0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93];
  return [
    // Recall grid: 7 TPs, 1 FP, 13 TPs over 20 GTs.
    { gt: { images: img(1), categories: cat, annotations: twenty }, res: [...scores.map((s, i) => det(1, [50 * i, 0, 40, 40], s)), det(1, [0, 500, 40, 40], 0.915), ...Array.from({ length: 13 }, (_, i) => det(1, [50 * (i + 7), 0, 40, 40], 0.9 - i * 0.01))] },
    // IoU grid: IoU exactly 0.85.
    { gt: { images: img(1), categories: cat, annotations: [gtAnn(1, 1, [0, 0, 100, 100])] }, res: [det(1, [0, 0, 100, 85], 0.9)] },
    // Closed area ranges.
    { gt: { images: img(1), categories: cat, annotations: [gtAnn(1, 1, [0, 0, 32, 32])] }, res: [det(1, [0, 0, 32, 32], 0.9)] },
    { gt: { images: img(1), categories: cat, annotations: [gtAnn(1, 1, [0, 0, 96, 96])] }, res: [det(1, [0, 0, 96, 96], 0.9)] },
    { gt: { images: img(1), categories: cat, annotations: [gtAnn(1, 1, [0, 0, 10, 10])] }, res: [det(1, [200, 200, 32, 32], 0.9), det(1, [0, 0, 10, 10], 0.8)] },
    // Ties across images.
    { gt: { images: img(1, 2), categories: cat, annotations: [gtAnn(1, 2, [0, 0, 40, 40])] }, res: [det(2, [0, 0, 40, 40], 0.9), det(1, [0, 0, 40, 40], 0.9)] },
    // Crowd.
    { gt: { images: img(1), categories: cat, annotations: [gtAnn(1, 1, [0, 0, 40, 40]), gtAnn(2, 1, [100, 0, 100, 100], 1)] }, res: [det(1, [110, 10, 40, 40], 0.9), det(1, [0, 0, 40, 40], 0.8)] },
    // oLRP inside a tie.
    { gt: { images: img(1), categories: cat, annotations: [gtAnn(1, 1, [0, 0, 40, 40]), gtAnn(2, 1, [100, 100, 40, 40])] }, res: [det(1, [0, 0, 40, 40], 0.9), det(1, [300, 300, 10, 10], 0.9)] },
    // oLRP maxDets: 120 FPs above the only TP.
    { gt: { images: img(1), categories: cat, annotations: [gtAnn(1, 1, [0, 0, 40, 40])] }, res: [...Array.from({ length: 120 }, (_, i) => det(1, [500, 4 * i, 3, 3], 0.99 - i * 1e-4)), det(1, [0, 0, 40, 40], 0.5)] },
  ];
}

const cocoRow = (m: COCOMetrics) => [m.AP, m.AP50, m.AP75, m.APs, m.APm, m.APl, m.AR1, m.AR10, m.AR100, m.ARs, m.ARm, m.ARl];
const lrpRow = (m: COCOMetrics) => [...cocoRow(m), m.oLRP, m.oLRPLocalisation, m.oLRPFalsePositive, m.oLRPFalseNegative, m.oLRPs, m.oLRPm, m.oLRPl];
const NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl", "oLRP", "oLRPLoc", "oLRPFP", "oLRPFN", "oLRPs", "oLRPm", "oLRPl"];

/** A detector's detections on DATA as COCO results, and the metrics of the training path's evaluation. */
async function detectorCases(): Promise<{ cases: Case[]; metrics: COCOMetrics[] }> {
  if (!values.model || !values.data) return { cases: [], metrics: [] };
  const ds = loadCoco(values.data);
  const r = await evaluateDetector(new Uint8Array(readFileSync(values.model)), loadAdapter(values.preset!), ds.samples);
  const gt = JSON.parse(readFileSync(join(values.data, "annotations.json"), "utf8"));
  const res = r.detections.map((d) => ({ image_id: d.image, category_id: ds.categories[d.category]!.id, bbox: [d.box[0], d.box[1], d.box[2] - d.box[0], d.box[3] - d.box[1]] as Box, score: d.score }));
  const rounded = res.map((d) => ({ ...d, score: Math.round(d.score * 100) / 100 }));
  console.log(`detector: ${r.detections.length} detections on ${ds.samples.length} images, AP ${r.metrics.AP.toFixed(4)}, AP50 ${r.metrics.AP50.toFixed(4)}, oLRP ${r.metrics.oLRP.toFixed(4)}`);
  return { cases: [{ gt, res }, { gt, res: rounded }], metrics: [r.metrics] };
}

const detector = await detectorCases();
const cases = [...reproCases(), ...detector.cases, ...Array.from({ length: Number(values.cases) }, randomCase)];
const dir = mkdtempSync(join(tmpdir(), "ranksort-coco-parity-"));
const ours: COCOMetrics[] = cases.map((c, i) => {
  mkdirSync(join(dir, String(i)));
  writeFileSync(join(dir, String(i), "gt.json"), JSON.stringify(c.gt));
  writeFileSync(join(dir, String(i), "res.json"), JSON.stringify(c.res));
  const gt = readGroundTruthFile(join(dir, String(i), "gt.json"));
  return cocoMetrics(readResultsFile(join(dir, String(i), "res.json"), gt), gt.groundTruth, { categories: gt.categories.map((x) => x.id) });
});
// The training path's own numbers (class indices, float32 boxes) against the same reference case.
const firstDetectorCase = reproCases().length;
const pathRows = detector.metrics.map((m) => ({ case: firstDetectorCase, row: lrpRow(m) }));
const t0 = performance.now();
const py = spawnSync("/usr/bin/python3", [join(import.meta.dir, "coco_eval_reference.py"), process.env.PYCOCOTOOLS_DIR ?? "/tmp/i15ref/coco/PythonAPI", process.env.LRP_ERROR_DIR ?? "/tmp/i15ref/lrp", dir], { encoding: "utf8", maxBuffer: 1 << 28 });
if (py.status !== 0) throw new Error(`reference run failed: ${py.stderr}`);
const refs = py.stdout.trim().split("\n").map((l) => JSON.parse(l) as { case: string; coco: number[]; lrp: number[]; thresholds: Record<string, number> });
let exact = 0;
const maxDiff = new Array(NAMES.length + 1).fill(0);
const bad: string[] = [];
for (const r of refs) {
  const i = Number(r.case);
  const m = ours[i]!;
  const mine = lrpRow(m);
  const diffs = [...r.lrp.map((v, k) => Math.abs(v - mine[k]!)), ...r.coco.map((v, k) => Math.abs(v - mine[k]!))];
  const thrKeys = Object.keys(r.thresholds);
  const thrDiff = Math.max(0, ...thrKeys.map((k) => Math.abs(r.thresholds[k]! - (m.oLRPThresholds[k] ?? NaN))));
  const same = r.lrp.every((v, k) => v === mine[k]) && r.coco.every((v, k) => v === mine[k]) && thrKeys.length === Object.keys(m.oLRPThresholds).length && thrDiff === 0;
  if (same) exact++;
  else bad.push(`case ${i}${i < reproCases().length ? " (issue repro)" : i < firstDetectorCase + detector.cases.length ? " (detector)" : ""}: ${NAMES.map((n, k) => (mine[k] !== r.lrp[k] ? `${n} ours ${mine[k]} ref ${r.lrp[k]}` : "")).filter(Boolean).join("; ")}${thrDiff ? `; thresholds differ by ${thrDiff}` : ""}`);
  NAMES.forEach((_, k) => (maxDiff[k] = Math.max(maxDiff[k], diffs[k]!, diffs[NAMES.length + k] ?? 0)));
  maxDiff[NAMES.length] = Math.max(maxDiff[NAMES.length], Number.isNaN(thrDiff) ? Infinity : thrDiff);
}
for (const p of pathRows) {
  const ref = refs.find((r) => Number(r.case) === p.case)!.lrp;
  const d = Math.max(...ref.map((v, k) => Math.abs(v - p.row[k]!)));
  console.log(`detector evaluation path (evaluateDetector) vs the reference on its results file: ${ref.every((v, k) => v === p.row[k]) ? "bit-identical" : `max |difference| ${d}`}`);
}
console.log(`${refs.length} cases (${reproCases().length} issue repros + ${detector.cases.length} detector + ${refs.length - reproCases().length - detector.cases.length} random), reference run ${((performance.now() - t0) / 1000).toFixed(1)} s`);
console.log(`bit-identical to pycocotools COCOeval (12 stats) and LRP-Error (oLRP + components + s/m/l + per-class thresholds): ${exact}/${refs.length}`);
console.log(`max |difference|: ${[...NAMES, "thresholds"].map((n, k) => `${n} ${maxDiff[k]}`).join(", ")}`);
for (const b of bad.slice(0, 10)) console.log(b);
rmSync(dir, { recursive: true, force: true });
