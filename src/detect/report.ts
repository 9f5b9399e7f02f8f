// `ranksort report RUN`: one self-contained HTML file (inline SVG charts, images as data URIs) that
// opens offline — loss curves, AP per epoch, precision–recall curves of the final model at IoU 0.5,
// and validation images with their top predictions and ground-truth boxes.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CocoDataset } from "../data/coco.ts";
import { encodeRGBPng, readImage } from "../data/image.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { iou } from "./boxes.ts";
import { classColourHex, drawBoxes, type DrawnBox } from "./draw_boxes.ts";
import type { EpochMetrics } from "./detector_training.ts";
import type { Detection } from "./evaluate.ts";

const COLORS = ["#d62728", "#2ca02c", "#1f77b4", "#ff7f0e", "#9467bd", "#8c564b"];

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

/** Round tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^k, about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / Math.max(1, count - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((v) => v >= raw * 0.999)!;
  if (integer) step = Math.max(1, Math.round(step));
  // From the last round value at or below lo to the first at or above hi, so the data fits inside.
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  return Array.from({ length: last - first + 1 }, (_, i) => Number(((first + i) * step).toPrecision(12)) + 0);
}

const tickText = (v: number) => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6))));

/** A line chart of named series over x, as inline SVG, with round ticks on both axes. */
export function lineChart(title: string, xLabel: string, series: { name: string; x: number[]; y: number[] }[], yMax?: number, note?: string): string {
  const [W, H, L, B, T, R] = [400, 250, 44, 40, 34, 116];
  const xs = series.flatMap((s) => s.x);
  const ys = series.flatMap((s) => s.y).filter((v) => Number.isFinite(v));
  const integerX = xs.every((x) => Number.isInteger(x));
  const xTicks = niceTicks(Math.min(...xs, 0), Math.max(...xs, 1), 6, integerX);
  const yTicks = yMax !== undefined ? niceTicks(0, yMax, 5) : niceTicks(0, Math.max(...ys, 1e-9), 5);
  const [x0, x1] = [xTicks[0]!, xTicks.at(-1)!];
  const y1 = Math.max(yTicks.at(-1)!, 1e-9);
  const px = (x: number) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const py = (y: number) => H - B - (y / y1) * (H - B - T);
  const paths = series.map((s, i) => {
    const pts = s.x.map((x, k) => (Number.isFinite(s.y[k]!) ? `${px(x).toFixed(1)},${py(s.y[k]!).toFixed(1)}` : "")).filter(Boolean);
    const color = COLORS[i % COLORS.length];
    return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(" ")}"/>` +
      `<text x="${W - R + 8}" y="${T + 16 * i + 10}" fill="${color}" font-size="12">${escapeHtml(s.name)}</text>`;
  });
  const yTickMarks = yTicks.map((v) => `<line x1="${L - 4}" y1="${py(v)}" x2="${L}" y2="${py(v)}" stroke="#444"/><text x="${L - 6}" y="${py(v) + 4}" font-size="10" text-anchor="end">${tickText(v)}</text>`);
  const xTickMarks = xTicks.map((v) => `<line x1="${px(v)}" y1="${H - B}" x2="${px(v)}" y2="${H - B + 4}" stroke="#444"/><text x="${px(v)}" y="${H - B + 15}" font-size="10" text-anchor="middle">${tickText(v)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(title)}">` +
    `<text x="${L}" y="16" font-size="13" font-weight="bold">${escapeHtml(title)}</text>` +
    (note ? `<text x="${L}" y="29" font-size="10" fill="#555">${escapeHtml(note)}</text>` : "") +
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#444"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#444"/>` +
    `${yTickMarks.join("")}${xTickMarks.join("")}<text x="${(L + W - R) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">${escapeHtml(xLabel)}</text>${paths.join("")}</svg>`;
}

/** Precision–recall points of one class at IoU 0.5 (greedy matching in score order). */
export function prCurve(dets: Detection[], gts: { image: number; box: number[] }[]): { recall: number[]; precision: number[] } {
  const byImage = new Map<number, number[][]>();
  for (const g of gts) byImage.set(g.image, [...(byImage.get(g.image) ?? []), g.box]);
  const used = new Map<number, Set<number>>();
  const sorted = [...dets].sort((a, b) => b.score - a.score);
  const recall: number[] = [];
  const precision: number[] = [];
  let tp = 0;
  sorted.forEach((d, k) => {
    const cands = byImage.get(d.image) ?? [];
    const taken = used.get(d.image) ?? new Set<number>();
    let best = -1;
    let bestIoU = 0.5;
    cands.forEach((g, j) => {
      if (taken.has(j)) return;
      const v = iou(Float32Array.from(d.box), 0, Float32Array.from(g), 0);
      if (v >= bestIoU) [best, bestIoU] = [j, v];
    });
    if (best >= 0) {
      taken.add(best);
      used.set(d.image, taken);
      tp++;
    }
    recall.push(gts.length ? tp / gts.length : 0);
    precision.push(tp / (k + 1));
  });
  return { recall, precision };
}

export interface ReportInput {
  runDir: string;
  metrics: EpochMetrics[];
  dataset: CocoDataset;
  /** Final model's detections on the validation images (original coordinates). */
  detections: Detection[];
  validationImageIds: number[];
  /** The run's settings (RUN/run.json), shown in a table. */
  settings?: Record<string, unknown>;
}

/** Optional per-epoch fields (oLRP components); missing, null or −1 values show as "—". */
const OPTIONAL_METRICS = ["oLRPLocalisation", "oLRPFalsePositive", "oLRPFalseNegative"] as const;

function metricCell(v: unknown): string {
  return typeof v === "number" && Number.isFinite(v) && v !== -1 ? v.toFixed(3) : "—";
}

function settingsTable(settings: Record<string, unknown>): string {
  const shown = Object.entries(settings).filter(([k]) => k !== "adapter");
  const adapter = settings.adapter as { name?: string } | undefined;
  if (adapter?.name) shown.unshift(["adapter", adapter.name]);
  return `<table class="settings">${shown.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v === null || v === undefined ? "—" : String(v))}</td></tr>`).join("")}</table>`;
}

export function writeReport(input: ReportInput): string {
  const { metrics, dataset, detections } = input;
  const trained = metrics.filter((m) => m.loss !== null);
  const epochs = trained.map((m) => m.epoch);
  const componentNames = [...new Set(trained.flatMap((m) => Object.keys(m.components)))].filter((k) => k !== "lambda");
  const lossChart = lineChart("Training loss", "epoch", [
    { name: "total", x: epochs, y: trained.map((m) => m.loss!) },
    ...componentNames.map((k) => ({ name: k, x: epochs, y: trained.map((m) => m.components[k] ?? NaN) })),
  ]);
  const apChart = lineChart("Validation metrics", "epoch", ["AP", "AP50", "AP75", "oLRP"].map((k) => ({ name: k === "oLRP" ? "oLRP (lower)" : k, x: metrics.map((m) => m.epoch), y: metrics.map((m) => m[k as "AP"]) })), 1, "AP: higher is better; oLRP: lower is better");
  const valSet = new Set(input.validationImageIds);
  const samples = dataset.samples.filter((s) => valSet.has(s.imageId));
  const gts = samples.flatMap((s) => Array.from(s.classes, (c, k) => ({ image: s.imageId, category: c, box: Array.from(s.boxes.subarray(4 * k, 4 * k + 4)) })));
  const prChart = lineChart(
    "Precision–recall at IoU 0.5 (final model)",
    "recall",
    dataset.categories.map((cat, c) => {
      const pr = prCurve(detections.filter((d) => d.category === c), gts.filter((g) => g.category === c));
      return { name: cat.name, x: pr.recall, y: pr.precision };
    }),
    1,
  );
  const pictures = samples.slice(0, 8).map((s) => {
    const truth: DrawnBox[] = Array.from(s.classes, (c, k) => ({ box: Array.from(s.boxes.subarray(4 * k, 4 * k + 4)), classIndex: c, dashed: true }));
    // RS scores rank but are not calibrated: show the image's top-k detections, k = its object count.
    const top = detections.filter((d) => d.image === s.imageId).sort((a, b) => b.score - a.score).slice(0, s.classes.length);
    const img = drawBoxes(readImage(s.path), [...truth, ...top.reverse().map((d) => ({ box: d.box, classIndex: d.category, score: d.score }))]);
    const uri = `data:image/png;base64,${Buffer.from(encodeRGBPng(img)).toString("base64")}`;
    return `<figure><img src="${uri}" width="${img.width * 2}" height="${img.height * 2}" alt="image ${s.imageId}"><figcaption>image ${s.imageId}</figcaption></figure>`;
  });
  const last = metrics.at(-1)!;
  const optional = OPTIONAL_METRICS.filter((k) => metrics.some((m) => k in m));
  const rows = metrics
    .map((m) => `<tr><td>${m.epoch}</td><td>${m.loss === null ? "—" : m.loss.toFixed(3)}</td><td>${m.AP.toFixed(3)}</td><td>${m.AP50.toFixed(3)}</td><td>${m.AP75.toFixed(3)}</td><td>${m.oLRP.toFixed(3)}</td>${optional.map((k) => `<td>${metricCell((m as unknown as Record<string, unknown>)[k])}</td>`).join("")}<td>${m.epoch ? m.imagesPerSecond.toFixed(1) : "—"}</td></tr>`)
    .join("");
  const optionalHeads = optional.map((k) => `<th>${k.replace("oLRP", "oLRP ")}↓</th>`).join("");
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>ranksort run report</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;max-width:1320px}.charts{display:flex;flex-wrap:wrap;gap:8px}svg{border:1px solid #ddd}.images{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:6px}figure{margin:0}img{image-rendering:pixelated;max-width:100%;height:auto}table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}.settings th{text-align:left}.cols{display:flex;gap:32px;flex-wrap:wrap;align-items:flex-start}</style></head><body>
<h1>ranksort run report</h1>
<p>Final epoch ${last.epoch}: AP ${last.AP.toFixed(3)}, AP50 ${last.AP50.toFixed(3)}, AP75 ${last.AP75.toFixed(3)}, oLRP ${last.oLRP.toFixed(3)}.</p>
<div class="charts">${lossChart}${apChart}${prChart}</div>
<div class="cols"><div><h2>Metrics per epoch</h2><table><tr><th>epoch</th><th>loss</th><th>AP</th><th>AP50</th><th>AP75</th><th>oLRP↓</th>${optionalHeads}<th>img/s</th></tr>${rows}</table><p>↓ lower is better (oLRP); epoch 0 is the model before training.</p></div>
${input.settings ? `<div><h2>Settings</h2>${settingsTable(input.settings)}</div>` : ""}</div>
<h2>Validation images</h2><p>Dashed white: ground truth. Coloured, with scores: the image's top-k predictions, k = its number of objects (${dataset.categories.map((c, i) => `<span style="background:#222;padding:0 4px;color:${classColourHex(i)}">${escapeHtml(c.name)}</span>`).join(" ")}).</p>
<div class="images">${pictures.join("\n")}</div>
</body></html>`;
  const path = join(input.runDir, "report.html");
  writeFileAtomic(path, html);
  return path;
}

export function readMetrics(runDir: string): EpochMetrics[] {
  return JSON.parse(readFileSync(join(runDir, "metrics.json"), "utf8"));
}
