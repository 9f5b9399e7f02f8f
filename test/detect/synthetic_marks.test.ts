// The fine-tuning demo's second domain: deterministic, loads as COCO, classes unlike the shapes'.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCoco } from "../../src/data/coco.ts";
import { SYNTHETIC_CATEGORIES } from "../../src/data/synthetic_dataset.ts";
import { writeMarksDataset } from "../../src/data/synthetic_marks.ts";

describe("synthetic marks domain", () => {
  const dir = mkdtempSync(join(tmpdir(), "ranksort-marks-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  test("rings and crosses, deterministic, inside the image", () => {
    const a = writeMarksDataset(join(dir, "a"), { images: 8, size: 64, seed: 4 });
    const b = writeMarksDataset(join(dir, "b"), { images: 8, size: 64, seed: 4 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(readFileSync(join(dir, "a", "images", "00003.png"))).toEqual(readFileSync(join(dir, "b", "images", "00003.png")));
    const ds = loadCoco(join(dir, "a"));
    expect(ds.categories.map((c) => c.name)).toEqual(["ring", "cross"]);
    expect(ds.categories.some((c) => SYNTHETIC_CATEGORIES.some((s) => s.name === c.name))).toBe(false);
    expect(ds.samples).toHaveLength(8);
    const classes = new Set(ds.samples.flatMap((s) => [...s.classes]));
    expect([...classes].sort()).toEqual([0, 1]);
  });
});
