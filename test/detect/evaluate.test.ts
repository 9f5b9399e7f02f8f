// COCO-style AP and oLRP on small hand-computed cases.
import { describe, expect, test } from "bun:test";
import { cocoMetrics, type Detection, type GroundTruth, olrp } from "../../src/detect/evaluate.ts";

const gt = (image: number, category: number, ...box: number[]): GroundTruth => ({ image, category, box: box as [number, number, number, number] });
const det = (image: number, category: number, score: number, ...box: number[]): Detection => ({ ...gt(image, category, ...box), score });

describe("COCO AP", () => {
  test("perfect detections give AP 1", () => {
    const gts = [gt(0, 1, 0, 0, 50, 50), gt(1, 1, 10, 10, 200, 200), gt(1, 2, 0, 0, 20, 20)];
    const m = cocoMetrics(gts.map((g) => ({ ...g, score: 0.9 })), gts);
    expect(m.AP).toBeCloseTo(1, 10);
    expect(m.AP50).toBeCloseTo(1, 10);
    expect(m.APs).toBeCloseTo(1, 10);
    expect(m.APm).toBeCloseTo(1, 10);
    expect(m.APl).toBeCloseTo(1, 10);
  });

  test("a higher-scored false positive halves precision at full recall", () => {
    // One gt; det A (0.9) misses; det B (0.8) matches exactly. Recall 1 is reached at precision ½:
    // the interpolated precision is ½ at every recall point ≥ 0.01 and ½ at 0 too → AP ½.
    const gts = [gt(0, 1, 0, 0, 40, 40)];
    const dets = [det(0, 1, 0.9, 100, 100, 140, 140), det(0, 1, 0.8, 0, 0, 40, 40)];
    expect(cocoMetrics(dets, gts).AP50).toBeCloseTo(0.5, 10);
  });

  test("a localisation that passes at 0.5 but not at 0.75", () => {
    // IoU = 30·40/(40·40) = 0.75 → TP up to threshold 0.75 (6 of 10 thresholds), so AP = 0.6.
    const gts = [gt(0, 1, 0, 0, 40, 40)];
    const dets = [det(0, 1, 0.9, 0, 0, 30, 40)];
    const m = cocoMetrics(dets, gts);
    expect(m.AP50).toBe(1);
    expect(m.AP75).toBe(1);
    expect(m.AP).toBeCloseTo(0.6, 10);
  });

  test("missing half the objects caps recall at ½", () => {
    const gts = [gt(0, 1, 0, 0, 40, 40), gt(1, 1, 0, 0, 40, 40)];
    // 51 of the 101 recall points (0 … 0.5) have precision 1.
    expect(cocoMetrics([det(0, 1, 0.9, 0, 0, 40, 40)], gts).AP50).toBeCloseTo(51 / 101, 10);
  });
});

describe("oLRP", () => {
  test("perfect detection: 0; one TP with IoU 0.75: ½ (localisation error (1 − .75)/(1 − .5))", () => {
    expect(olrp([det(0, 1, 0.9, 0, 0, 40, 40)], [gt(0, 1, 0, 0, 40, 40)]).oLRP).toBe(0);
    expect(olrp([det(0, 1, 0.9, 0, 0, 30, 40)], [gt(0, 1, 0, 0, 40, 40)]).oLRP).toBeCloseTo(0.5, 10);
  });

  test("the optimal threshold drops a low-scored false positive", () => {
    const gts = [gt(0, 1, 0, 0, 40, 40), gt(0, 1, 100, 100, 140, 140)];
    const dets = [det(0, 1, 0.9, 0, 0, 40, 40), det(0, 1, 0.8, 100, 100, 140, 140), det(0, 1, 0.3, 300, 300, 310, 310)];
    const r = olrp(dets, gts);
    expect(r.oLRP).toBe(0);
    expect(r.perCategory.get(1)!.threshold).toBe(0.8);
    // Nothing detected: LRP = N_FN / N_FN = 1.
    expect(olrp([], gts).oLRP).toBe(1);
    // One TP (IoU 1), one FN, one FP at the same score: (0 + 1 + 1)/(1 + 1 + 1) = 2/3.
    expect(olrp([det(0, 1, 0.9, 0, 0, 40, 40), det(0, 1, 0.9, 300, 300, 310, 310)], gts).oLRP).toBeCloseTo(2 / 3, 10);
  });
});
