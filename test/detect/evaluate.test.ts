// COCO AP/AR and oLRP on hand-built cases, one per convention of pycocotools' COCOeval and the
// official LRP-Error code (each repro of issue 15 is one test). Expected values are worked out by
// hand; where pycocotools' own rounding shows (its precision is tp / (tp + fp + 2⁻⁵²)), the exact
// double it prints is pinned. bench/coco_eval_parity.ts compares random cases with both tools.
import { describe, expect, test } from "bun:test";
import { cocoMetrics, type Detection, type GroundTruth, IOU_THRESHOLDS, RECALL_THRESHOLDS } from "../../src/detect/evaluate.ts";

type Extra = Pick<GroundTruth, "iscrowd" | "ignore" | "area">;
const gt = (image: number, category: number, box: number[], extra: Extra = {}): GroundTruth => ({ image, category, box: box as GroundTruth["box"], ...extra });
const det = (image: number, category: number, score: number, box: number[]): Detection => ({ image, category, score, box: box as Detection["box"] });
/** pycocotools' AP of a perfect detection: precision 1 / (1 + 2⁻⁵²). */
const ONE = 1 / (1 + 2 ** -52);

describe("COCO AP/AR as pycocotools computes them", () => {
  test("grids are numpy's linspace: 0.85 exactly, 0.8999999999999999, recall points i·0.01", () => {
    expect(IOU_THRESHOLDS[7]).toBe(0.85);
    expect(IOU_THRESHOLDS[8]).toBe(0.8999999999999999);
    expect(IOU_THRESHOLDS[9]).toBe(0.95);
    expect(RECALL_THRESHOLDS.every((r, i) => r === i * 0.01)).toBe(true);
    // Ten points sit an ulp above i/100 (0.35 and 0.70 among them): where recall lands on them, i/100 reads another detection.
    expect(RECALL_THRESHOLDS.filter((r, i) => r !== i / 100)).toHaveLength(10);
    expect(RECALL_THRESHOLDS[70]).toBeGreaterThan(0.7);
  });

  test("recall grid: recall lands exactly on 0.35 and 0.70 (20 GTs) → AP50 0.968883, not 0.969354", () => {
    const gts = Array.from({ length: 20 }, (_, i) => gt(1, 1, [50 * i, 0, 50 * i + 40, 40]));
    const tp = (i: number, s: number) => det(1, 1, s, [50 * i, 0, 50 * i + 40, 40]);
    const dets = [...[0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93].map((s, i) => tp(i, s)), det(1, 1, 0.915, [0, 500, 40, 540]), ...Array.from({ length: 13 }, (_, i) => tp(i + 7, 0.9 - i * 0.01))];
    const m = cocoMetrics(dets, gts);
    expect(m.AP50).toBe(0.9688826025459688);
    expect(m.AP).toBe(0.968882602545969);
  });

  test("IoU grid: IoU exactly 0.85 passes the 0.85 threshold → AP 0.8, not 0.7", () => {
    const m = cocoMetrics([det(1, 1, 0.9, [0, 0, 100, 85])], [gt(1, 1, [0, 0, 100, 100])]);
    expect(m.AP).toBe(0.7999999999999999);
    expect(m.AP50).toBeCloseTo(1, 12);
  });

  test("area ranges are closed: 32² is small and medium, 96² medium and large", () => {
    const m32 = cocoMetrics([det(1, 1, 0.9, [0, 0, 32, 32])], [gt(1, 1, [0, 0, 32, 32])]);
    expect([m32.APs, m32.APm, m32.APl]).toEqual([ONE, ONE, -1]);
    expect([m32.ARs, m32.ARm, m32.ARl]).toEqual([1, 1, -1]);
    const m96 = cocoMetrics([det(1, 1, 0.9, [0, 0, 96, 96])], [gt(1, 1, [0, 0, 96, 96])]);
    expect([m96.APs, m96.APm, m96.APl]).toEqual([-1, ONE, ONE]);
  });

  test("an unmatched detection of area exactly 32² counts against small objects → APs 0.5, not 1", () => {
    const m = cocoMetrics([det(1, 1, 0.9, [200, 200, 232, 232]), det(1, 1, 0.8, [0, 0, 10, 10])], [gt(1, 1, [0, 0, 10, 10])]);
    expect(m.APs).toBeCloseTo(0.5, 12);
    // In the large range the 10×10 ground truth is ignored and so is the small unmatched detection.
    expect(m.APl).toBe(-1);
  });

  test("size ranges read the annotation's area, not its box", () => {
    const m = cocoMetrics([det(1, 1, 0.9, [0, 0, 40, 40])], [gt(1, 1, [0, 0, 40, 40], { area: 900 })]);
    expect([m.APs, m.APm]).toEqual([ONE, -1]);
  });

  test("undefined metrics are −1: no large objects, and no ground truth at all", () => {
    const m = cocoMetrics([det(1, 1, 0.9, [0, 0, 40, 40])], [gt(1, 1, [0, 0, 40, 40])]);
    expect([m.APl, m.ARl, m.oLRPl]).toEqual([-1, -1, -1]);
    expect(m.APm).toBe(ONE);
    const none = cocoMetrics([det(1, 1, 0.9, [0, 0, 40, 40])], []);
    for (const v of Object.values(none)) if (typeof v === "number") expect(v).toBe(-1);
    expect(none.oLRPThresholds).toEqual({});
  });

  test("score ties across images follow sorted image id: the FP of image 1 comes first → AP 0.5, not 1", () => {
    const dets = [det(2, 1, 0.9, [0, 0, 40, 40]), det(1, 1, 0.9, [0, 0, 40, 40])];
    const m = cocoMetrics(dets, [gt(2, 1, [0, 0, 40, 40])]);
    expect(m.AP50).toBeCloseTo(0.5, 12);
    // oLRP after the FP then the TP: min((0+1+1)/2, (0+1+0)/2) = ½.
    expect(m.oLRP).toBe(0.5);
  });

  test("a detection on a crowd region (IoU = intersection / detection area) is ignored → AP 1, oLRP 0", () => {
    const gts = [gt(1, 1, [0, 0, 40, 40]), gt(1, 1, [100, 0, 200, 100], { iscrowd: true })];
    const m = cocoMetrics([det(1, 1, 0.9, [110, 10, 150, 50]), det(1, 1, 0.8, [0, 0, 40, 40])], gts);
    expect(m.AP50).toBeCloseTo(1, 12);
    expect(m.AP).toBeCloseTo(1, 12);
    expect(m.oLRP).toBe(0);
    expect(m.oLRPThresholds).toEqual({ "1": 0.8 });
    // A crowd region absorbs any number of detections; with IoU it would not match (0.16 < 0.5).
    const many = [0.95, 0.9, 0.85].map((s, i) => det(1, 1, s, [110 + 10 * i, 10, 150 + 10 * i, 50]));
    expect(cocoMetrics([...many, det(1, 1, 0.8, [0, 0, 40, 40])], gts).AP50).toBeCloseTo(1, 12);
  });

  test("crowd-only images and categories: nothing to miss, detections on the crowd ignored, undefined where only crowds", () => {
    const gts = [gt(1, 1, [0, 0, 40, 40]), gt(2, 1, [0, 0, 300, 300], { iscrowd: true }), gt(2, 2, [0, 0, 300, 300], { iscrowd: true })];
    const dets = [det(2, 1, 0.95, [10, 10, 60, 60]), det(1, 1, 0.9, [0, 0, 40, 40]), det(2, 2, 0.9, [10, 10, 60, 60])];
    const m = cocoMetrics(dets, gts);
    expect(m.AP).toBeCloseTo(1, 12); // category 2 (crowd only) is undefined, so the mean is category 1's
    expect(m.oLRPThresholds).toEqual({ "1": 0.9, "2": -1 });
  });

  test("`ignore: 1` is dropped as pycocotools drops it; honourIgnore treats it as ignored", () => {
    const gts = [gt(1, 1, [0, 0, 40, 40]), gt(1, 1, [100, 100, 140, 140], { ignore: true })];
    const dets = [det(1, 1, 0.9, [0, 0, 40, 40])];
    expect(cocoMetrics(dets, gts).AR100).toBe(0.5);
    expect(cocoMetrics(dets, gts, { honourIgnore: true }).AR100).toBe(1);
  });

  test("maxDets 1/10/100 cap detections per image and category", () => {
    const gts = Array.from({ length: 20 }, (_, i) => gt(1, 1, [50 * i, 0, 50 * i + 40, 40]));
    const dets = gts.map((g, i) => det(1, 1, 1 - i / 100, g.box));
    const m = cocoMetrics(dets, gts);
    expect([m.AR1, m.AR10, m.AR100]).toEqual([1 / 20, 10 / 20, 1]);
    expect(m.AP).toBeCloseTo(1, 12);
    // Capped at 10: recall 0.5 at precision 1 → 51 of 101 recall points.
    const capped = cocoMetrics(dets, gts, { maxDets: [1, 5, 10] });
    expect(capped.AR100).toBe(0.5);
    expect(capped.AP).toBeCloseTo(51 / 101, 12);
    expect(() => cocoMetrics(dets, gts, { maxDets: [10, 1, 100] })).toThrow(/strictly ascending/);
  });

  test("detections on images without ground truth are false positives", () => {
    const m = cocoMetrics([det(2, 1, 0.9, [0, 0, 40, 40]), det(1, 1, 0.8, [0, 0, 40, 40])], [gt(1, 1, [0, 0, 40, 40])]);
    expect(m.AP50).toBeCloseTo(0.5, 12);
  });

  test("a class without detections counts 0; a class without ground truth is left out", () => {
    const gts = [gt(1, 1, [0, 0, 40, 40]), gt(1, 2, [100, 100, 140, 140])];
    const m = cocoMetrics([det(1, 1, 0.9, [0, 0, 40, 40]), det(1, 3, 0.9, [200, 200, 240, 240])], gts);
    expect(m.AP).toBeCloseTo(0.5, 12);
    expect(m.AR100).toBe(0.5);
    expect(Object.keys(m.oLRPThresholds)).toEqual(["1", "2"]);
  });

  test("duplicates: the second detection on one object is a false positive", () => {
    const gts = [gt(1, 1, [0, 0, 40, 40]), gt(1, 1, [100, 0, 140, 40])];
    // Duplicate of object 1 scored above the detection of object 2: precision drops to 2/3 at full recall.
    const dets = [det(1, 1, 0.9, [0, 0, 40, 40]), det(1, 1, 0.85, [0, 0, 40, 40]), det(1, 1, 0.8, [100, 0, 140, 40])];
    const m = cocoMetrics(dets, gts);
    expect(m.AP50).toBeCloseTo((51 + 50 * (2 / 3)) / 101, 12);
    // oLRP at 0.9: (0 + 0 + 1)/2 = ½; at 0.85: (0 + 1 + 1)/3; at 0.8: (0 + 1 + 0)/3 = ⅓.
    expect(m.oLRP).toBeCloseTo(1 / 3, 15);
    expect(m.oLRPFalsePositive).toBeCloseTo(1 / 3, 15);
  });
});

describe("oLRP as the official LRP-Error code computes it", () => {
  test("components and the optimal threshold; a class with no detection has oLRP 1 and no threshold", () => {
    const gts = [gt(1, 1, [0, 0, 40, 40]), gt(1, 1, [100, 100, 140, 140]), gt(1, 2, [300, 300, 340, 340])];
    // TP IoU 0.75, FP, TP IoU 1, FP. LRP after each: 0.75, 5/6, 0.5, 0.625 → optimum at score 0.7.
    const dets = [det(1, 1, 0.9, [0, 0, 30, 40]), det(1, 1, 0.8, [500, 500, 540, 540]), det(1, 1, 0.7, [100, 100, 140, 140]), det(1, 1, 0.6, [600, 600, 640, 640])];
    const m = cocoMetrics(dets, gts);
    expect(m.oLRP).toBeCloseTo((0.5 + 1) / 2, 15);
    expect(m.oLRPLocalisation).toBeCloseTo(0.125, 15); // mean 1 − IoU over the TPs (class 2 has none)
    expect(m.oLRPFalsePositive).toBeCloseTo(1 / 3, 15);
    expect(m.oLRPFalseNegative).toBeCloseTo((0 + 1) / 2, 15);
    expect(m.oLRPThresholds).toEqual({ "1": 0.7, "2": -1 });
    expect(m.oLRPm).toBeCloseTo(0.75, 15);
  });

  test("inside a run of equal scores, LRP is evaluated after every detection → 0.5, not 2/3", () => {
    const gts = [gt(1, 1, [0, 0, 40, 40]), gt(1, 1, [100, 100, 140, 140])];
    const dets = [det(1, 1, 0.9, [0, 0, 40, 40]), det(1, 1, 0.9, [300, 300, 310, 310])];
    expect(cocoMetrics(dets, gts).oLRP).toBe(0.5);
    // The order-independent variant: only "score ≥ 0.9" is a threshold: (0 + 1 + 1)/3.
    expect(cocoMetrics(dets, gts, { olrpTies: "score-threshold" }).oLRP).toBeCloseTo(2 / 3, 15);
  });

  test("oLRP keeps 100 detections per image and class: 120 FPs above the only TP → 1, not 0.9917", () => {
    const dets = [...Array.from({ length: 120 }, (_, i) => det(1, 1, 0.99 - i * 1e-4, [500, 4 * i, 503, 4 * i + 3])), det(1, 1, 0.5, [0, 0, 40, 40])];
    const m = cocoMetrics(dets, [gt(1, 1, [0, 0, 40, 40])]);
    expect(m.oLRP).toBe(1);
    expect(m.oLRPFalseNegative).toBe(1);
    expect(m.oLRPLocalisation).toBe(-1);
    expect(m.oLRPThresholds).toEqual({ "1": -1 });
    expect(cocoMetrics(dets, [gt(1, 1, [0, 0, 40, 40])], { maxDets: [1, 10, 1000] }).oLRP).toBeCloseTo(120 / 121, 15);
  });

  test("perfect detection: 0; one TP with IoU 0.75: localisation (1 − .75)/(1 − .5) = ½", () => {
    expect(cocoMetrics([det(0, 1, 0.9, [0, 0, 40, 40])], [gt(0, 1, [0, 0, 40, 40])]).oLRP).toBe(0);
    const m = cocoMetrics([det(0, 1, 0.9, [0, 0, 30, 40])], [gt(0, 1, [0, 0, 40, 40])]);
    expect(m.oLRP).toBe(0.5);
    expect(m.oLRPLocalisation).toBe(0.25);
    expect(cocoMetrics([], [gt(0, 1, [0, 0, 40, 40])]).oLRP).toBe(1);
  });
});
