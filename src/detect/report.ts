// `ranksort report RUN`: one self-contained HTML file (inline SVG charts, images as data URIs) that
// opens offline — loss curves, AP per epoch, precision–recall curves of the final model at IoU 0.5,
// and validation images with their top predictions and ground-truth boxes.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CocoDataset } from "../data/coco.ts";
import { encodeRGBPng, readImage, type RGBImage } from "../data/image.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { iou } from "./boxes.ts";
import type { EpochMetrics } from "./detector_training.ts";
import type { Detection } from "./evaluate.ts";

const COLORS = ["#d62728", "#2ca02c", "#1f77b4", "#ff7f0e", "#9467bd", "#8c564b"];

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

/** A line chart of named series over x, as inline SVG. */
export function lineChart(title: string, xLabel: string, series: { name: string; x: number[]; y: number[] }[], yMax?: number): string {
  const [W, H, L, B, T, R] = [420, 260, 48, 36, 28, 110];
  const xs = series.flatMap((s) => s.x);
  const ys = series.flatMap((s) => s.y).filter((v) => Number.isFinite(v));
  const [x0, x1] = [Math.min(...xs, 0), Math.max(...xs, 1)];
  const y1 = yMax ?? Math.max(...ys, 1e-9) * 1.05;
  const px = (x: number) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const py = (y: number) => H - B - (y / y1) * (H - B - T);
  const paths = series.map((s, i) => {
    const pts = s.x.map((x, k) => (Number.isFinite(s.y[k]!) ? `${px(x).toFixed(1)},${py(s.y[k]!).toFixed(1)}` : "")).filter(Boolean);
    const color = COLORS[i % COLORS.length];
    return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(" ")}"/>` +
      `<text x="${W - R + 8}" y="${T + 16 * i + 10}" fill="${color}" font-size="12">${escapeHtml(s.name)}</text>`;
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${L - 6}" y="${py(f * y1) + 4}" font-size="10" text-anchor="end">${(f * y1).toFixed(2)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(title)}">` +
    `<text x="${L}" y="16" font-size="13" font-weight="bold">${escapeHtml(title)}</text>` +
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#444"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#444"/>` +
    `${ticks.join("")}<text x="${(L + W - R) / 2}" y="${H - 8}" font-size="11" text-anchor="middle">${escapeHtml(xLabel)}</text>${paths.join("")}</svg>`;
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

function drawBox(img: RGBImage, box: number[], rgb: [number, number, number], dashed: boolean): void {
  const [x1, y1, x2, y2] = box.map((v) => Math.round(v));
  const put = (x: number, y: number) => {
    if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
    if (dashed && (x + y) % 4 < 2) return;
    img.data.set(rgb, 3 * (y * img.width + x));
  };
  for (let x = x1!; x <= x2!; x++) {
    put(x, y1!);
    put(x, y2!);
  }
  for (let y = y1!; y <= y2!; y++) {
    put(x1!, y);
    put(x2!, y);
  }
}

export interface ReportInput {
  runDir: string;
  metrics: EpochMetrics[];
  dataset: CocoDataset;
  /** Final model's detections on the validation images (original coordinates). */
  detections: Detection[];
  validationImageIds: number[];
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
  const apChart = lineChart("Validation metrics", "epoch", ["AP", "AP50", "AP75", "oLRP"].map((k) => ({ name: k, x: metrics.map((m) => m.epoch), y: metrics.map((m) => m[k as "AP"]) })), 1);
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
    const img = readImage(s.path);
    for (let k = 0; k < s.classes.length; k++) drawBox(img, Array.from(s.boxes.subarray(4 * k, 4 * k + 4)), [255, 255, 255], true);
    // RS scores rank but are not calibrated: show the image's top-k detections, k = its object count.
    const top = detections.filter((d) => d.image === s.imageId).sort((a, b) => b.score - a.score).slice(0, s.classes.length);
    for (const d of top) {
      const hex = COLORS[d.category % COLORS.length]!;
      drawBox(img, d.box, [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)], false);
    }
    const uri = `data:image/png;base64,${Buffer.from(encodeRGBPng(img)).toString("base64")}`;
    return `<figure><img src="${uri}" width="${img.width * 2}" height="${img.height * 2}" alt="image ${s.imageId}"><figcaption>image ${s.imageId}</figcaption></figure>`;
  });
  const last = metrics.at(-1)!;
  const rows = metrics
    .map((m) => `<tr><td>${m.epoch}</td><td>${m.loss === null ? "–" : m.loss.toFixed(3)}</td><td>${m.AP.toFixed(3)}</td><td>${m.AP50.toFixed(3)}</td><td>${m.AP75.toFixed(3)}</td><td>${m.oLRP.toFixed(3)}</td><td>${m.epoch ? m.imagesPerSecond.toFixed(1) : "–"}</td></tr>`)
    .join("");
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>ranksort run report</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;max-width:1100px}svg{margin:8px;border:1px solid #ddd}figure{display:inline-block;margin:6px}img{image-rendering:pixelated}table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}</style></head><body>
<h1>ranksort run report</h1>
<p>Final epoch ${last.epoch}: AP ${last.AP.toFixed(3)}, AP50 ${last.AP50.toFixed(3)}, AP75 ${last.AP75.toFixed(3)}, oLRP ${last.oLRP.toFixed(3)}.</p>
<div>${lossChart}${apChart}${prChart}</div>
<h2>Metrics per epoch</h2><table><tr><th>epoch</th><th>loss</th><th>AP</th><th>AP50</th><th>AP75</th><th>oLRP</th><th>img/s</th></tr>${rows}</table>
<h2>Validation images</h2><p>Dashed white: ground truth. Coloured: the image's top-k predictions, k = its number of objects (${dataset.categories.map((c, i) => `<span style="color:${COLORS[i % COLORS.length]}">${escapeHtml(c.name)}</span>`).join(", ")}).</p>
${pictures.join("\n")}
</body></html>`;
  const path = join(input.runDir, "report.html");
  writeFileAtomic(path, html);
  return path;
}

export function readMetrics(runDir: string): EpochMetrics[] {
  return JSON.parse(readFileSync(join(runDir, "metrics.json"), "utf8"));
}
