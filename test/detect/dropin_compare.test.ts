// The drop-in check's per-image comparison: twins by class, score and box — including boxes clipped
// flat against the image border, which have no area (their IoU is undefined) yet agree exactly.
import { describe, expect, test } from "bun:test";
import { compareImageDetections } from "../../src/detect/dropin_check.ts";

const det = (classIndex: number, score: number, box: [number, number, number, number]) => ({ classIndex, score, box });

describe("compareImageDetections", () => {
  test("identical detections agree, a zero-height box included", () => {
    const a = [det(0, 0.22687, [52.79, 40, 56, 40]), det(0, 0.2025, [46.17, 47.59, 48.37, 48])];
    const b = [det(0, 0.22687, [52.79, 40, 56, 40]), det(0, 0.2025001, [46.17, 47.59, 48.37, 48])];
    const m = compareImageDetections(a, b);
    expect(m).toMatchObject({ compared: 2, agreeing: 2 });
    expect(m.ious).toEqual([1, 1]);
  });

  test("a flat box elsewhere, a shifted box, a different score or class do not agree", () => {
    const flat = det(0, 0.5, [10, 40, 20, 40]);
    expect(compareImageDetections([flat], [det(0, 0.5, [10, 41, 20, 41])]).agreeing).toBe(0);
    expect(compareImageDetections([det(0, 0.5, [0, 0, 10, 10])], [det(0, 0.5, [3, 0, 13, 10])]).agreeing).toBe(0);
    expect(compareImageDetections([det(0, 0.5, [0, 0, 10, 10])], [det(0, 0.52, [0, 0, 10, 10])]).agreeing).toBe(0);
    expect(compareImageDetections([det(0, 0.5, [0, 0, 10, 10])], [det(1, 0.5, [0, 0, 10, 10])])).toMatchObject({ compared: 2, agreeing: 0 });
  });
});
