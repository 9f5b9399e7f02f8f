// Crowd regions in training: the loader keeps iscrowd / ignore annotations out of the targets but
// carries them (and every annotation, for evaluation), and the batches mark anchors on them ignored
// (−1 in every class) instead of negative, through letterbox and flip, for ATSS and max-IoU.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCoco } from "../../src/data/coco.ts";
import { writeSyntheticDataset } from "../../src/data/synthetic_dataset.ts";
import { anchorLayout, loadAdapter } from "../../src/detect/adapter.ts";
import { IGNORED, ignoreCrowdAnchors, NEGATIVE } from "../../src/detect/assigners.ts";
import { makeBatch, planForRawHeads } from "../../src/detect/detector_batches.ts";

/** Intersection over the anchor's own area. */
function iof(anchors: Float32Array, a: number, r: number[]): number {
  const w = Math.min(anchors[4 * a + 2]!, r[2]!) - Math.max(anchors[4 * a]!, r[0]!);
  const h = Math.min(anchors[4 * a + 3]!, r[3]!) - Math.max(anchors[4 * a + 1]!, r[1]!);
  return w > 0 && h > 0 ? (w * h) / ((anchors[4 * a + 2]! - anchors[4 * a]!) * (anchors[4 * a + 3]! - anchors[4 * a + 1]!)) : 0;
}

describe("crowd regions", () => {
  const dir = mkdtempSync(join(tmpdir(), "ranksort-crowd-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeSyntheticDataset(dir, { images: 2, size: 128, seed: 3 });
  const ann = JSON.parse(readFileSync(join(dir, "annotations.json"), "utf8"));
  const firstOwn = ann.annotations.filter((a: { image_id: number }) => a.image_id === 1).length;
  // A crowd region over the right half of image 1, a smaller ignore: 1 box, both in the middle of the file's annotation list.
  ann.annotations.splice(1, 0, { id: 1001, image_id: 1, category_id: 1, bbox: [64, 0, 64, 128], area: 5000, iscrowd: 1 }, { id: 1002, image_id: 1, category_id: 2, bbox: [0, 100, 20, 20], area: 400, iscrowd: 0, ignore: 1 });
  // On image 2, a crowd region with decimals: evaluation gets the file's float64 numbers.
  ann.annotations.push({ id: 1003, image_id: 2, category_id: 3, bbox: [10.3, 20.1, 30.7, 40.9], area: 1000.5, iscrowd: 1 });
  writeFileSync(join(dir, "annotations.json"), JSON.stringify(ann));

  test("the loader keeps crowd and ignore annotations out of the targets and carries them", () => {
    const s = loadCoco(dir).samples[0]!;
    expect(s.classes.length).toBe(firstOwn);
    expect(s.boxes.length).toBe(4 * firstOwn);
    expect(Array.from(s.ignoreRegions)).toEqual([64, 0, 128, 128, 0, 100, 20, 120]);
    expect(s.annotations).toHaveLength(firstOwn + 2);
    expect(s.annotations[1]).toEqual({ bbox: [64, 0, 64, 128], area: 5000, classIndex: 0, iscrowd: true, ignore: false });
    expect(s.annotations[2]).toMatchObject({ iscrowd: false, ignore: true, area: 400, classIndex: 1 });
    const s2 = loadCoco(dir).samples[1]!;
    expect(s2.annotations.at(-1)).toEqual({ bbox: [10.3, 20.1, 30.7, 40.9], area: 1000.5, classIndex: 2, iscrowd: true, ignore: false });
    expect(Array.from(s2.ignoreRegions)).toEqual([10.3, 20.1, 10.3 + 30.7, 20.1 + 40.9].map(Math.fround));
    const bad = JSON.parse(JSON.stringify(ann));
    bad.annotations[0].area = "large";
    writeFileSync(join(dir, "bad_area.json"), JSON.stringify(bad));
    expect(() => loadCoco(dir, join(dir, "bad_area.json"))).toThrow(/annotation \d+ has a bad area "large" \(expected a number ≥ 0\)/);
  });

  for (const preset of ["tiny-fcos", "tiny-retinanet"]) {
    test(`${preset}: anchors on the crowd region are ignored, not negatives; positives and boxes unchanged (also flipped)`, () => {
      const adapter = loadAdapter(preset);
      const layout = anchorLayout(adapter);
      const C = adapter.numClasses;
      const sample = loadCoco(dir).samples[0]!;
      const plain = { ...sample, ignoreRegions: new Float32Array(0) };
      for (const flip of [false, true]) {
        const rand = () => 0; // flip whenever asked
        const withCrowd = makeBatch([sample], planForRawHeads(adapter), rand, flip).feeds;
        const without = makeBatch([plain], planForRawHeads(adapter), rand, flip).feeds;
        const t1 = withCrowd.class_targets!.data as Float32Array;
        const t0 = without.class_targets!.data as Float32Array;
        expect(Array.from(withCrowd.gt_boxes!.data as Float32Array)).toEqual(Array.from(without.gt_boxes!.data as Float32Array));
        // Network coordinates: scale 1 (128 → 128); the flip mirrors x.
        const crowd = flip ? [0, 0, 64, 128] : [64, 0, 128, 128];
        let newlyIgnored = 0;
        for (let a = 0; a < layout.anchors.length / 4; a++) {
          const row0 = Array.from(t0.subarray(a * C, (a + 1) * C));
          const row1 = Array.from(t1.subarray(a * C, (a + 1) * C));
          if (row0.some((v) => v > 0)) expect(row1).toEqual(row0); // positives stay
          if (row1.every((v) => v === -1) && row0.every((v) => v === 0)) {
            newlyIgnored++;
            expect(iof(layout.anchors, a, crowd) > 0.5 || iof(layout.anchors, a, flip ? [108, 100, 128, 120] : [0, 100, 20, 120]) > 0.5).toBe(true);
          } else expect(row1).toEqual(row0);
          // A negative anchor well inside the crowd region is never left a negative.
          if (iof(layout.anchors, a, crowd) > 0.5 && row0.every((v) => v === 0)) expect(row1.every((v) => v === -1)).toBe(true);
        }
        expect(newlyIgnored).toBeGreaterThan(20);
      }
    });
  }

  test("ignoreCrowdAnchors: strictly more than the threshold of the anchor's own area, positives kept", () => {
    const anchors = Float32Array.from([0, 0, 10, 10, 5, 0, 15, 10, 4, 0, 14, 10, 50, 50, 60, 60]);
    const assignment = { gt: Int32Array.from([0, NEGATIVE, NEGATIVE, NEGATIVE]), iou: new Float32Array(4) };
    const r = ignoreCrowdAnchors(assignment, anchors, Float32Array.from([0, 0, 10, 100]));
    // Anchor 0 is positive (kept); anchor 1 covers exactly half (not more); anchor 2 covers 0.6.
    expect(Array.from(r.gt)).toEqual([0, NEGATIVE, IGNORED, NEGATIVE]);
    expect(Array.from(assignment.gt)).toEqual([0, NEGATIVE, NEGATIVE, NEGATIVE]); // input untouched
    expect(ignoreCrowdAnchors(assignment, anchors, new Float32Array(0))).toBe(assignment);
  });
});
