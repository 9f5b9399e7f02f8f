// Detection metrics with the numbers of the reference tools, ties included: COCO bbox AP/AR as
// pycocotools' COCOeval computes them, and optimal LRP (oLRP) with its components and per-class
// LRP-optimal thresholds as the authors' LRP-Error code (a cocoapi fork) computes them. The
// conventions that decide results are spelled out where they are applied; README "Evaluation" lists
// them and the one exception.

/** [x1, y1, x2, y2]. */
export type XYXY = [number, number, number, number];
/** COCO [x, y, width, height]. */
export type XYWH = [number, number, number, number];

export interface GroundTruth {
  image: number;
  category: number;
  box: XYXY;
  /**
   * The COCO box as the annotation file has it. IoU and areas are computed on it, as pycocotools
   * does (x + width need not round-trip through x2 in floating point); derived from `box` if absent.
   */
  bbox?: XYWH;
  /** The annotation's `area` (pycocotools' size ranges read this, not the box); default width × height. */
  area?: number;
  /** A crowd region (`iscrowd: 1`): never missed; detections matching it (IoU = intersection / detection area) are ignored. */
  iscrowd?: boolean;
  /** `ignore: 1`. pycocotools overwrites this flag with `iscrowd`, so it counts only with `honourIgnore`. */
  ignore?: boolean;
}

export interface Detection {
  image: number;
  category: number;
  box: XYXY;
  /** As for GroundTruth: the COCO results file's own bbox, when there is one. */
  bbox?: XYWH;
  score: number;
}

export interface EvaluationOptions {
  /** Detections kept per image and category, ascending (pycocotools [1, 10, 100]). AP and oLRP use the last; AR1/AR10/AR100 are the three. */
  maxDets?: readonly [number, number, number];
  /**
   * Where oLRP is evaluated along the score-sorted detections. "every-detection" (default, the
   * official code): after every detection, inside runs of equal scores too, so the order of tied
   * detections (image id, then input order) matters. "score-threshold": only where the score drops,
   * i.e. at thresholds "score ≥ s" that can really be set — independent of the order of ties.
   */
  olrpTies?: "every-detection" | "score-threshold";
  /** Treat `ignore: 1` ground truth like a crowd region's ignore (default false: pycocotools drops the flag). */
  honourIgnore?: boolean;
  /** Categories to report (e.g. every category of the annotation file); default those with ground truth. */
  categories?: readonly number[];
}

/**
 * The evaluation's results, flat. Undefined values (no ground truth in an area range, no category
 * with ground truth, no true positive for a component or a threshold) are −1, as pycocotools stores
 * them; tables show them as "—".
 *
 * - `AP` (IoU .50:.05:.95), `AP50`, `AP75`, `APs`/`APm`/`APl` (area ≤ 32², 32²…96², ≥ 96², closed
 *   ranges), `AR1`/`AR10`/`AR100` (recall with maxDets 1/10/100), `ARs`/`ARm`/`ARl` (at 100):
 *   pycocotools' `COCOeval.stats[0..11]`.
 * - `oLRP`: mean over categories with ground truth of the optimal LRP at IoU 0.5 (lower is better),
 *   `oLRPLocalisation` (mean 1 − IoU of the true positives at the optimum), `oLRPFalsePositive`
 *   (FP / detections kept), `oLRPFalseNegative` (FN / ground truth), each a mean over the categories
 *   where it is defined, and `oLRPs`/`oLRPm`/`oLRPl` per area range: the official LRP-Error
 *   `stats[12..18]`.
 * - `oLRPThresholds`: per category (the `category` values given: COCO category ids from a file, class
 *   indices 0…C−1 for a model's evaluation), the LRP-optimal score threshold, −1 where undefined.
 */
export interface COCOMetrics {
  AP: number;
  AP50: number;
  AP75: number;
  APs: number;
  APm: number;
  APl: number;
  AR1: number;
  AR10: number;
  AR100: number;
  ARs: number;
  ARm: number;
  ARl: number;
  oLRP: number;
  oLRPLocalisation: number;
  oLRPFalsePositive: number;
  oLRPFalseNegative: number;
  oLRPs: number;
  oLRPm: number;
  oLRPl: number;
  oLRPThresholds: Record<string, number>;
}

/** numpy.linspace(start, stop, num): i·step + start with step = (stop − start)/(num − 1), the last point exactly stop. */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  out[num - 1] = stop;
  return out;
}

/** pycocotools' IoU thresholds: np.linspace(.5, .95, 10) — 0.85 exactly, 0.8999999999999999 at the 9th. */
export const IOU_THRESHOLDS = linspace(0.5, 0.95, 10);
/** pycocotools' recall points: np.linspace(0, 1, 101) = i·0.01 (ten of them one ulp above i/100). */
export const RECALL_THRESHOLDS = linspace(0, 1, 101);
/** pycocotools' area ranges, closed at both ends: 32² is small and medium, 96² medium and large. */
const AREA_RANGES: readonly (readonly [number, number])[] = [
  [0, 1e10],
  [0, 32 ** 2],
  [32 ** 2, 96 ** 2],
  [96 ** 2, 1e10],
];
const [ALL, SMALL, MEDIUM, LARGE] = [0, 1, 2, 3];
/** np.spacing(1): pycocotools' precision is tp / (tp + fp + this). */
const SPACING_1 = 2 ** -52;

/** numpy's float64 sum (pairwise, 8-way unrolled blocks of ≤ 128), so means round as np.mean's do. */
function numpySum(a: readonly number[], start = 0, n = a.length): number {
  if (n < 8) {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[start + i]!;
    return s;
  }
  if (n <= 128) {
    const r = a.slice(start, start + 8);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = r[j]! + a[start + i + j]!;
    let s = r[0]! + r[1]! + (r[2]! + r[3]!) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (; i < n; i++) s += a[start + i]!;
    return s;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return numpySum(a, start, n2) + numpySum(a, start + n2, n - n2);
}

/** np.mean over the defined entries (not −1, not NaN), −1 when there are none — pycocotools' summarize. */
function meanDefined(values: readonly number[]): number {
  const kept = values.filter((v) => v > -1);
  return kept.length ? (0 + numpySum(kept)) / kept.length : -1;
}

/** maskApi.c bbIou on COCO boxes in float64; a crowd region's union is the detection's area. */
function cocoIoU(d: XYWH, g: XYWH, crowd: boolean): number {
  const w = Math.min(d[2] + d[0], g[2] + g[0]) - Math.max(d[0], g[0]);
  if (w <= 0) return 0;
  const h = Math.min(d[3] + d[1], g[3] + g[1]) - Math.max(d[1], g[1]);
  if (h <= 0) return 0;
  const i = w * h;
  return i / (crowd ? d[2] * d[3] : d[2] * d[3] + g[2] * g[3] - i);
}

const toXYWH = (b: XYXY): XYWH => [b[0], b[1], b[2] - b[0], b[3] - b[1]];

interface EvalGt {
  bbox: XYWH;
  area: number;
  crowd: boolean;
  ignore: boolean;
}
interface EvalDet {
  bbox: XYWH;
  area: number;
  score: number;
}

/** One image and category: its ground truth (input order) and detections (score order, capped). */
interface Cell {
  gts: EvalGt[];
  dets: EvalDet[];
  /** [detection][gt] */
  ious: Float64Array;
}

/** One cell's matches in one area range. */
interface CellResult {
  scores: number[];
  /** [threshold][detection] */
  matched: Uint8Array;
  ignored: Uint8Array;
  /** [detection]: IoU of the match at the first threshold (0.5), for oLRP. */
  iou50: Float64Array;
  /** Ground truth not ignored in this range. */
  counted: number;
}

/** Stable descending sort by score (numpy's mergesort on −score): ties keep their order. */
const byScoreDesc = (scores: readonly number[]) => (i: number, j: number) => (scores[j]! > scores[i]! ? 1 : scores[j]! < scores[i]! ? -1 : 0);

/** pycocotools evaluateImg for one area range: greedy matching in score order at every IoU threshold. */
function evaluateCell(cell: Cell, range: readonly [number, number]): CellResult {
  const T = IOU_THRESHOLDS.length;
  const G = cell.gts.length;
  const D = cell.dets.length;
  const outside = (a: number) => a < range[0] || a > range[1];
  const gtIgnored = cell.gts.map((g) => g.ignore || outside(g.area));
  // Ground truth that counts comes first (stable), so a detection prefers it over ignored regions.
  const order = Array.from({ length: G }, (_, i) => i).sort((a, b) => Number(gtIgnored[a]) - Number(gtIgnored[b]));
  const matched = new Uint8Array(T * D);
  const ignored = new Uint8Array(T * D);
  const iou50 = new Float64Array(D);
  const taken = new Uint8Array(G);
  for (let t = 0; t < T; t++) {
    taken.fill(0);
    for (let d = 0; d < D; d++) {
      let best = Math.min(IOU_THRESHOLDS[t]!, 1 - 1e-10);
      let m = -1;
      for (const g of order) {
        if (taken[g] && !cell.gts[g]!.crowd) continue; // crowd regions match any number of detections
        if (m > -1 && !gtIgnored[m] && gtIgnored[g]) break; // matched to counted ground truth: done
        const v = cell.ious[d * G + g]!;
        if (v < best) continue; // equal IoU: the later ground truth wins, as in pycocotools
        best = v;
        m = g;
      }
      if (m === -1) continue;
      matched[t * D + d] = 1;
      ignored[t * D + d] = gtIgnored[m] ? 1 : 0;
      taken[m] = 1;
      if (t === 0) iou50[d] = best;
    }
    // Unmatched detections outside the area range are ignored, not false positives.
    for (let d = 0; d < D; d++) if (!matched[t * D + d] && outside(cell.dets[d]!.area)) ignored[t * D + d] = 1;
  }
  return { scores: cell.dets.map((d) => d.score), matched, ignored, iou50, counted: gtIgnored.filter((x) => !x).length };
}

interface Accumulated {
  /** [threshold][recall point], or undefined when the category has no counted ground truth. */
  precision?: Float64Array;
  /** [threshold] */
  recall?: Float64Array;
  olrp?: { lrp: number; localisation: number; falsePositive: number; falseNegative: number; threshold: number };
}

/** pycocotools accumulate (and the LRP-Error fork's oLRP) for one category, area range and maxDet. */
function accumulate(results: CellResult[], maxDet: number, olrpTies: EvaluationOptions["olrpTies"], withOLRP: boolean): Accumulated {
  const T = IOU_THRESHOLDS.length;
  const R = RECALL_THRESHOLDS.length;
  const counted = results.reduce((a, r) => a + r.counted, 0);
  if (counted === 0) return {};
  // Detections of all images concatenated in image-id order, then stably sorted by score.
  const scores: number[] = [];
  const source: [number, number][] = [];
  results.forEach((r, c) => {
    for (let d = 0; d < Math.min(maxDet, r.scores.length); d++) {
      scores.push(r.scores[d]!);
      source.push([c, d]);
    }
  });
  const order = scores.map((_, i) => i).sort(byScoreDesc(scores));
  const n = order.length;
  const precision = new Float64Array(T * R);
  const recall = new Float64Array(T);
  const tpAt = new Float64Array(n);
  const fpAt = new Float64Array(n);
  const locAt = new Float64Array(n);
  for (let t = 0; t < T; t++) {
    const pr = new Float64Array(n);
    const rc = new Float64Array(n);
    let tp = 0;
    let fp = 0;
    let iouSum = 0;
    for (let i = 0; i < n; i++) {
      const [c, d] = source[order[i]!]!;
      const r = results[c]!;
      const D = r.scores.length;
      if (!r.ignored[t * D + d]) {
        if (r.matched[t * D + d]) {
          tp++;
          if (t === 0) iouSum += r.iou50[d]!;
        } else fp++;
      }
      rc[i] = tp / counted;
      pr[i] = tp / (fp + tp + SPACING_1);
      if (t === 0) {
        tpAt[i] = tp;
        fpAt[i] = fp;
        locAt[i] = tp - iouSum;
      }
    }
    recall[t] = n ? rc[n - 1]! : 0;
    for (let i = n - 1; i > 0; i--) if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!;
    // np.searchsorted(rc, recThrs, side="left"); points beyond the last recall stay 0.
    let k = 0;
    for (let q = 0; q < R; q++) {
      while (k < n && rc[k]! < RECALL_THRESHOLDS[q]!) k++;
      if (k >= n) break;
      precision[t * R + q] = pr[k]!;
    }
  }
  if (!withOLRP) return { precision, recall };
  const none = { lrp: 1, localisation: NaN, falsePositive: NaN, falseNegative: 1, threshold: NaN };
  if (n === 0 || tpAt[n - 1] === 0) return { precision, recall, olrp: none };
  let best = -1;
  let bestLRP = Infinity;
  for (let i = 0; i < n; i++) {
    if (olrpTies === "score-threshold" && i + 1 < n && scores[order[i + 1]!] === scores[order[i]!]) continue;
    const fn = counted - tpAt[i]!;
    const lrp = (locAt[i]! / (1 - IOU_THRESHOLDS[0]!) + fpAt[i]! + fn) / (tpAt[i]! + fpAt[i]! + fn);
    if (lrp < bestLRP) [best, bestLRP] = [i, lrp]; // np.argmin: the first minimum
  }
  return {
    precision,
    recall,
    olrp: {
      lrp: bestLRP,
      localisation: locAt[best]! / tpAt[best]!,
      falsePositive: fpAt[best]! / (tpAt[best]! + fpAt[best]!),
      falseNegative: (counted - tpAt[best]!) / counted,
      threshold: scores[order[best]!]!,
    },
  };
}

function checkMaxDets(maxDets: readonly number[]) {
  if (maxDets.length !== 3 || !maxDets.every((m, i) => Number.isInteger(m) && m > 0 && (i === 0 || m > maxDets[i - 1]!))) {
    throw new RangeError(`maxDets must be three strictly ascending positive integers, got [${maxDets.join(", ")}]`);
  }
}

/** COCO bbox AP/AR (pycocotools COCOeval) and oLRP with components and thresholds (LRP-Error); see COCOMetrics. */
export function cocoMetrics(dets: readonly Detection[], gts: readonly GroundTruth[], options: EvaluationOptions = {}): COCOMetrics {
  const maxDets = options.maxDets ?? [1, 10, 100];
  checkMaxDets(maxDets);
  const maxDet = maxDets[2];
  const categories = [...new Set(options.categories ?? gts.map((g) => g.category))].sort((a, b) => a - b);
  const wanted = new Set(categories);
  // cells[category][image] in insertion order; images are visited in ascending id below.
  const cells = new Map<number, Map<number, { gts: EvalGt[]; dets: EvalDet[] }>>();
  const cellOf = (category: number, image: number) => {
    let byImage = cells.get(category);
    if (!byImage) cells.set(category, (byImage = new Map()));
    let cell = byImage.get(image);
    if (!cell) byImage.set(image, (cell = { gts: [], dets: [] }));
    return cell;
  };
  for (const g of gts) {
    if (!wanted.has(g.category)) continue;
    const bbox = g.bbox ?? toXYWH(g.box);
    cellOf(g.category, g.image).gts.push({ bbox, area: g.area ?? bbox[2] * bbox[3], crowd: !!g.iscrowd, ignore: !!g.iscrowd || (!!options.honourIgnore && !!g.ignore) });
  }
  for (const d of dets) {
    if (!wanted.has(d.category)) continue;
    const bbox = d.bbox ?? toXYWH(d.box);
    cellOf(d.category, d.image).dets.push({ bbox, area: bbox[2] * bbox[3], score: d.score });
  }
  const K = categories.length;
  const acc: Accumulated[][][] = categories.map((c) => {
    const byImage = cells.get(c) ?? new Map<number, { gts: EvalGt[]; dets: EvalDet[] }>();
    const prepared: Cell[] = [...byImage.keys()].sort((a, b) => a - b).map((image) => {
      const raw = byImage.get(image)!;
      const scores = raw.dets.map((d) => d.score);
      const detsSorted = scores.map((_, i) => i).sort(byScoreDesc(scores)).slice(0, maxDet).map((i) => raw.dets[i]!);
      const G = raw.gts.length;
      const ious = new Float64Array(detsSorted.length * G);
      detsSorted.forEach((d, i) => raw.gts.forEach((g, j) => (ious[i * G + j] = cocoIoU(d.bbox, g.bbox, g.crowd))));
      return { gts: raw.gts, dets: detsSorted, ious };
    });
    return AREA_RANGES.map((range) => {
      const results = prepared.map((cell) => evaluateCell(cell, range));
      return maxDets.map((m, mi) => accumulate(results, m, options.olrpTies, mi === 2));
    });
  });
  const T = IOU_THRESHOLDS.length;
  const R = RECALL_THRESHOLDS.length;
  /** Mean precision over thresholds `ts` × recall points × categories, in numpy's C order (t, r, k). */
  const ap = (ts: number[], a: number) => {
    const v: number[] = [];
    for (const t of ts) for (let r = 0; r < R; r++) for (let k = 0; k < K; k++) v.push(acc[k]![a]![2]!.precision?.[t * R + r] ?? -1);
    return meanDefined(v);
  };
  const ar = (a: number, m: number) => {
    const v: number[] = [];
    for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) v.push(acc[k]![a]![m]!.recall?.[t] ?? -1);
    return meanDefined(v);
  };
  type Component = keyof NonNullable<Accumulated["olrp"]>;
  const lrp = (a: number, key: Component) => meanDefined(categories.map((_, k) => acc[k]![a]![2]!.olrp?.[key] ?? -1).filter((x) => !Number.isNaN(x)));
  const at = (threshold: number) => IOU_THRESHOLDS.flatMap((t, i) => (t === threshold ? [i] : []));
  const allT = IOU_THRESHOLDS.map((_, i) => i);
  const thresholds: Record<string, number> = {};
  categories.forEach((c, k) => {
    const v = acc[k]![ALL]![2]!.olrp?.threshold ?? -1;
    thresholds[String(c)] = Number.isNaN(v) ? -1 : v;
  });
  return {
    AP: ap(allT, ALL),
    AP50: ap(at(0.5), ALL),
    AP75: ap(at(0.75), ALL),
    APs: ap(allT, SMALL),
    APm: ap(allT, MEDIUM),
    APl: ap(allT, LARGE),
    AR1: ar(ALL, 0),
    AR10: ar(ALL, 1),
    AR100: ar(ALL, 2),
    ARs: ar(SMALL, 2),
    ARm: ar(MEDIUM, 2),
    ARl: ar(LARGE, 2),
    oLRP: lrp(ALL, "lrp"),
    oLRPLocalisation: lrp(ALL, "localisation"),
    oLRPFalsePositive: lrp(ALL, "falsePositive"),
    oLRPFalseNegative: lrp(ALL, "falseNegative"),
    oLRPs: lrp(SMALL, "lrp"),
    oLRPm: lrp(MEDIUM, "lrp"),
    oLRPl: lrp(LARGE, "lrp"),
    oLRPThresholds: thresholds,
  };
}
