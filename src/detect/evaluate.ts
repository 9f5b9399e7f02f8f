// Detection metrics: COCO-style AP (IoU 0.50:0.05:0.95, 101-point interpolated precision, AP50,
// AP75, AP by object size) and optimal LRP (oLRP, Oksuz et al.; the Rank & Sort paper's metric).
// Boxes are [x1, y1, x2, y2]; areas for the size ranges come from the ground-truth boxes.

import { area, iou } from "./boxes.ts";

export interface GroundTruth {
  image: number;
  category: number;
  box: [number, number, number, number];
}

export interface Detection extends GroundTruth {
  score: number;
}

export interface COCOMetrics {
  AP: number;
  AP50: number;
  AP75: number;
  APs: number;
  APm: number;
  APl: number;
}

const THRESHOLDS = Array.from({ length: 10 }, (_, i) => 0.5 + 0.05 * i);
const RECALL_POINTS = Array.from({ length: 101 }, (_, i) => i / 100);
const AREA_RANGES: Record<"all" | "small" | "medium" | "large", [number, number]> = {
  all: [0, Infinity],
  small: [0, 32 ** 2],
  medium: [32 ** 2, 96 ** 2],
  large: [96 ** 2, Infinity],
};

const boxArea = (b: readonly number[]) => area(Float32Array.from(b), 0);
const boxIoU = (a: readonly number[], b: readonly number[]) => iou(Float32Array.from(a), 0, Float32Array.from(b), 0);

/** Greedy COCO matching within one image and category: dets in score order take the best free gt. */
function matchImage(dets: Detection[], gts: GroundTruth[], threshold: number, range: [number, number]) {
  const gtIgnored = gts.map((g) => {
    const a = boxArea(g.box);
    return a < range[0] || a >= range[1];
  });
  // pycocotools puts ignored gts last so that regular gts are preferred.
  const order = gts.map((_, i) => i).sort((a, b) => Number(gtIgnored[a]) - Number(gtIgnored[b]));
  const taken = new Set<number>();
  return dets.map((d) => {
    let best = -1;
    let bestIoU = Math.min(threshold, 1 - 1e-10);
    for (const g of order) {
      if (taken.has(g)) continue;
      if (best >= 0 && !gtIgnored[best] && gtIgnored[g]) break;
      const v = boxIoU(d.box, gts[g]!.box);
      if (v < bestIoU) continue;
      best = g;
      bestIoU = v;
    }
    if (best >= 0) taken.add(best);
    const a = boxArea(d.box);
    const ignored = best >= 0 ? gtIgnored[best]! : a < range[0] || a >= range[1];
    return { matched: best >= 0, ignored, iou: best >= 0 ? bestIoU : 0 };
  });
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    m.set(k, [...(m.get(k) ?? []), it]);
  }
  return m;
}

/** AP of one category at one threshold and area range; undefined when it has no (non-ignored) gt. */
function categoryAP(dets: Detection[], gts: GroundTruth[], threshold: number, range: [number, number], maxDets: number): number | undefined {
  const gtByImage = groupBy(gts, (g) => String(g.image));
  const detByImage = groupBy(dets, (d) => String(d.image));
  const scored: { score: number; tp: boolean }[] = [];
  let npig = 0;
  for (const imgGts of gtByImage.values()) for (const g of imgGts) if (boxArea(g.box) >= range[0] && boxArea(g.box) < range[1]) npig++;
  for (const [img, imgDets] of detByImage) {
    const sorted = [...imgDets].sort((a, b) => b.score - a.score).slice(0, maxDets);
    const m = matchImage(sorted, gtByImage.get(img) ?? [], threshold, range);
    sorted.forEach((d, i) => {
      if (!m[i]!.ignored) scored.push({ score: d.score, tp: m[i]!.matched });
    });
  }
  if (npig === 0) return undefined;
  scored.sort((a, b) => b.score - a.score);
  const precision: number[] = [];
  const recall: number[] = [];
  let tp = 0;
  scored.forEach((s, i) => {
    if (s.tp) tp++;
    precision.push(tp / (i + 1));
    recall.push(tp / npig);
  });
  for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i]!, precision[i + 1]!);
  let sum = 0;
  for (const r of RECALL_POINTS) {
    const k = recall.findIndex((x) => x >= r);
    sum += k >= 0 ? precision[k]! : 0;
  }
  return sum / RECALL_POINTS.length;
}

function meanAP(dets: Detection[], gts: GroundTruth[], thresholds: number[], range: [number, number], maxDets: number): number {
  const categories = [...new Set(gts.map((g) => g.category))];
  const values: number[] = [];
  for (const t of thresholds) {
    for (const c of categories) {
      const v = categoryAP(dets.filter((d) => d.category === c), gts.filter((g) => g.category === c), t, range, maxDets);
      if (v !== undefined) values.push(v);
    }
  }
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}

/** COCO AP, AP50, AP75 and AP by object size (101-point interpolation, as pycocotools). */
export function cocoMetrics(dets: Detection[], gts: GroundTruth[], maxDets = 100): COCOMetrics {
  return {
    AP: meanAP(dets, gts, THRESHOLDS, AREA_RANGES.all, maxDets),
    AP50: meanAP(dets, gts, [0.5], AREA_RANGES.all, maxDets),
    AP75: meanAP(dets, gts, [0.75], AREA_RANGES.all, maxDets),
    APs: meanAP(dets, gts, THRESHOLDS, AREA_RANGES.small, maxDets),
    APm: meanAP(dets, gts, THRESHOLDS, AREA_RANGES.medium, maxDets),
    APl: meanAP(dets, gts, THRESHOLDS, AREA_RANGES.large, maxDets),
  };
}

export interface OLRP {
  /** Mean over categories with ground truth of the per-category optimal LRP. */
  oLRP: number;
  perCategory: Map<number, { oLRP: number; threshold: number }>;
}

/**
 * Optimal LRP at IoU τ = 0.5: LRP(s) = (Σ_TP (1 − IoU)/(1 − τ) + N_FP + N_FN) / (N_TP + N_FP + N_FN)
 * over detections scoring ≥ s, minimised over s; 1 when nothing is detected.
 */
export function olrp(dets: Detection[], gts: GroundTruth[], tau = 0.5): OLRP {
  const perCategory = new Map<number, { oLRP: number; threshold: number }>();
  for (const c of new Set(gts.map((g) => g.category))) {
    const cg = gts.filter((g) => g.category === c);
    const cd = dets.filter((d) => d.category === c);
    const gtByImage = groupBy(cg, (g) => String(g.image));
    const results: { score: number; tp: boolean; iou: number }[] = [];
    for (const [img, imgDets] of groupBy(cd, (d) => String(d.image))) {
      const sorted = [...imgDets].sort((a, b) => b.score - a.score);
      const m = matchImage(sorted, gtByImage.get(img) ?? [], tau, AREA_RANGES.all);
      sorted.forEach((d, i) => results.push({ score: d.score, tp: m[i]!.matched, iou: m[i]!.iou }));
    }
    results.sort((a, b) => b.score - a.score);
    const G = cg.length;
    let best = { oLRP: 1, threshold: Infinity };
    let ntp = 0;
    let loc = 0;
    results.forEach((r, k) => {
      if (r.tp) {
        ntp++;
        loc += (1 - r.iou) / (1 - tau);
      }
      const n = k + 1;
      // Only at the end of a run of equal scores is "score ≥ s" a real threshold.
      if (k + 1 < results.length && results[k + 1]!.score === r.score) return;
      const lrp = (loc + (n - ntp) + (G - ntp)) / (n + G - ntp);
      if (lrp < best.oLRP) best = { oLRP: lrp, threshold: r.score };
    });
    perCategory.set(c, best);
  }
  const values = [...perCategory.values()].map((v) => v.oLRP);
  return { oLRP: values.length ? values.reduce((a, b) => a + b, 0) / values.length : 1, perCategory };
}
