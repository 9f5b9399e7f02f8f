// Synthetic COCO data: deterministic, consistent boxes, round trip through the loader, clear errors;
// letterboxing and flipping move boxes with the pixels.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IMAGENET, prepareImage } from "../../src/data/batch.ts";
import { DatasetError, loadCoco } from "../../src/data/coco.ts";
import { decodeImage, ImageError, readImage } from "../../src/data/image.ts";
import { renderSyntheticImage, writeSyntheticDataset } from "../../src/data/synthetic_dataset.ts";

describe("synthetic COCO dataset", () => {
  const dir = mkdtempSync(join(tmpdir(), "ranksort-data-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("deterministic; every annotation box holds its object's colour", () => {
    const a = renderSyntheticImage(3, 64, 7, 4);
    const b = renderSyntheticImage(3, 64, 7, 4);
    expect(Buffer.from(a.image.data).equals(Buffer.from(b.image.data))).toBe(true);
    const coco = writeSyntheticDataset(dir, { images: 12, size: 64, seed: 7 });
    expect(coco.images).toHaveLength(12);
    expect(coco.annotations.length).toBeGreaterThanOrEqual(12);
    expect(new Set(coco.annotations.map((x) => x.category_id)).size).toBe(3);
    const sizes = coco.annotations.map((x) => x.bbox[2] * x.bbox[3]);
    expect(Math.max(...sizes) / Math.min(...sizes)).toBeGreaterThan(4); // scale variety
  });

  test("loader round trip, PNG decoding, and clear errors", () => {
    const ds = loadCoco(dir);
    expect(ds.samples).toHaveLength(12);
    expect(ds.categories.map((c) => c.name)).toEqual(["square", "disc", "triangle"]);
    const img = readImage(ds.samples[0]!.path);
    expect([img.width, img.height]).toEqual([64, 64]);
    const ann = JSON.parse(readFileSync(join(dir, "annotations.json"), "utf8"));
    const bad = (mut: (j: typeof ann) => void, name: string) => {
      const j = JSON.parse(JSON.stringify(ann));
      mut(j);
      writeFileSync(join(dir, name), JSON.stringify(j));
      return () => loadCoco(dir, join(dir, name));
    };
    expect(bad((j) => (j.annotations[0].category_id = 99), "a1.json")).toThrow(/annotation 1 has unknown category 99 \(known: 1, 2, 3\)/);
    expect(bad((j) => (j.annotations[0].bbox = [60, 60, 20, 20]), "a2.json")).toThrow(/annotation 1 box \[60, 60, 20, 20\] lies outside image/);
    expect(bad((j) => (j.images[0].file_name = "nope.png"), "a3.json")).toThrow(DatasetError);
    expect(bad((j) => (j.images[0].file_name = "nope.png"), "a3.json")).toThrow(/image 1 file .*nope\.png is missing/);
    expect(() => loadCoco(join(dir, "none"))).toThrow(/cannot read COCO annotations/);
    expect(() => decodeImage(new Uint8Array([1, 2, 3]), "x.bin")).toThrow(ImageError);
  });

  test("letterbox and flip carry the boxes", () => {
    const img = { width: 4, height: 2, data: new Uint8Array(4 * 2 * 3).fill(200) };
    const p = prepareImage(img, Float32Array.from([0, 0, 2, 1]), 8, IMAGENET, false);
    expect(p.scale).toBe(2);
    expect(Array.from(p.boxes)).toEqual([0, 0, 4, 2]);
    // Rows below the resized image (height 4) are padding: the normalised value of 0.
    expect(p.pixels[7 * 8]).toBeCloseTo((0 - 123.675) / 58.395, 5);
    expect(p.pixels[0]).toBeCloseTo((200 - 123.675) / 58.395, 5);
    const f = prepareImage(img, Float32Array.from([0, 0, 2, 1]), 8, IMAGENET, true);
    expect(Array.from(f.boxes)).toEqual([4, 0, 8, 2]);
  });
});
