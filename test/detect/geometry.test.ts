// Boxes, coders, anchors and points on hand-checkable numbers.
import { describe, expect, test } from "bun:test";
import { levelAnchors, levelPoints, levelsFor } from "../../src/detect/anchors.ts";
import { decodeDelta, decodeDistance, type DeltaXYWHCoder, encodeDelta, encodeDistance } from "../../src/detect/box_coders.ts";
import { giou, iou, iouMatrix } from "../../src/detect/boxes.ts";

const B = (...v: number[]) => Float32Array.from(v);

describe("boxes", () => {
  test("IoU and GIoU", () => {
    // [0,0,2,2] vs [1,1,3,3]: inter 1, union 7, hull 9.
    expect(iou(B(0, 0, 2, 2), 0, B(1, 1, 3, 3), 0)).toBeCloseTo(1 / 7, 7);
    expect(giou(B(0, 0, 2, 2), 0, B(1, 1, 3, 3), 0)).toBeCloseTo(1 / 7 - 2 / 9, 7);
    // Disjoint: IoU 0, GIoU = −(hull − union)/hull = −(16 − 2)/16 … [0,0,1,1] vs [3,3,4,4]
    expect(iou(B(0, 0, 1, 1), 0, B(3, 3, 4, 4), 0)).toBe(0);
    expect(giou(B(0, 0, 1, 1), 0, B(3, 3, 4, 4), 0)).toBeCloseTo(-(16 - 2) / 16, 7);
    expect(Array.from(iouMatrix(B(0, 0, 2, 2, 0, 0, 1, 1), B(0, 0, 2, 2)))).toEqual([1, 0.25]);
    expect(() => iouMatrix(B(0, 0, 1), B(0, 0, 1, 1))).toThrow(/4 numbers per box/);
  });
});

describe("box coders", () => {
  const coder: DeltaXYWHCoder = { kind: "delta-xywh", means: [0, 0, 0, 0], stds: [0.1, 0.1, 0.2, 0.2] };
  test("delta-xywh: a known encoding and a round trip", () => {
    // Anchor centre (5,5) size 10; target centre (6,5) size 20×10 → (0.1, 0, ln 2, 0) / stds.
    const d = encodeDelta(coder, B(0, 0, 10, 10), B(-4, 0, 16, 10));
    expect(d[0]).toBeCloseTo(1, 5);
    expect(d[1]).toBeCloseTo(0, 5);
    expect(d[2]).toBeCloseTo(Math.log(2) / 0.2, 5);
    expect(d[3]).toBeCloseTo(0, 5);
    const anchors = B(0, 0, 10, 10, 20, 30, 28, 50);
    const targets = B(1, -2, 13, 9, 18, 33, 30, 44);
    const back = decodeDelta(coder, anchors, encodeDelta(coder, anchors, targets));
    back.forEach((v, i) => expect(v).toBeCloseTo(targets[i]!, 4));
  });
  test("distance l-t-r-b with stride normalisation", () => {
    const points = B(10, 10, 40, 20);
    const targets = B(4, 6, 30, 16, 30, 0, 50, 50);
    const scale = B(8, 16);
    const d = encodeDistance(points, targets, scale);
    expect(Array.from(d.slice(0, 4))).toEqual([6 / 8, 4 / 8, 20 / 8, 6 / 8]);
    const back = decodeDistance(points, d, scale);
    back.forEach((v, i) => expect(v).toBeCloseTo(targets[i]!, 5));
  });
});

describe("anchors and points", () => {
  test("RetinaNet-style anchors: count, order, sizes", () => {
    const level = { height: 2, width: 3, stride: 8 };
    const a = levelAnchors(level, { octaveBaseScale: 4, scalesPerOctave: 3, ratios: [0.5, 1, 2] });
    expect(a.length).toBe(2 * 3 * 9 * 4);
    // First location centre (4, 4); ratio 0.5 (h/w), scale 32: w = 32/√0.5, h = 32·√0.5.
    expect(a[0]).toBeCloseTo(4 - 32 / Math.SQRT1_2 / 2, 4);
    expect(a[1]).toBeCloseTo(4 - (32 * Math.SQRT1_2) / 2, 4);
    // Location order: x fastest — the 10th anchor (index 9) is at centre (12, 4).
    expect((a[36]! + a[38]!) / 2).toBeCloseTo(12, 5);
    expect((a[37]! + a[39]!) / 2).toBeCloseTo(4, 5);
  });
  test("points at cell centres; level sizes", () => {
    expect(Array.from(levelPoints({ height: 1, width: 2, stride: 16 }))).toEqual([8, 8, 24, 8]);
    expect(levelsFor(100, 60, [8, 16, 32]).map((l) => [l.height, l.width])).toEqual([[13, 8], [7, 4], [4, 2]]);
  });
});
