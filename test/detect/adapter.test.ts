import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IMAGENET } from "../../src/data/batch.ts";
import { adapterNormalisation, anchorLayout, loadAdapter, PRESETS } from "../../src/detect/adapter.ts";

describe("detector adapters", () => {
  test("presets default to ImageNet normalisation; SSDlite takes [-1, 1] inputs; full torchvision exports 0…1", () => {
    for (const p of Object.values(PRESETS)) {
      const want: typeof IMAGENET = p.name === "torchvision-ssdlite" ? { mean: [127.5, 127.5, 127.5] as [number, number, number], std: [127.5, 127.5, 127.5] as [number, number, number] } : p.modelDetections ? { mean: [0, 0, 0] as [number, number, number], std: [255, 255, 255] as [number, number, number] } : IMAGENET;
      expect(adapterNormalisation(p)).toEqual(want);
    }
  });

  test("an adapter JSON carries its own normalisation", () => {
    const dir = mkdtempSync(join(tmpdir(), "ranksort-adapter-"));
    const path = join(dir, "a.json");
    writeFileSync(path, JSON.stringify({ ...PRESETS["tiny-fcos"], name: "unit", normalisation: { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] } }));
    const a = loadAdapter(path);
    expect(adapterNormalisation(a)).toEqual({ mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] });
  });

  test("bad normalisation names the field and value", () => {
    const base = PRESETS["tiny-fcos"]!;
    expect(() => adapterNormalisation({ ...base, normalisation: { mean: [0, 0, 0], std: [1, 0, 1] } })).toThrow("normalisation.std[1] must be > 0; got 0");
    expect(() => adapterNormalisation({ ...base, normalisation: { mean: [0, 0] as never, std: [1, 1, 1] } })).toThrow("normalisation.mean must be three finite numbers");
  });

  test("torchvision presets lay out P3–P7 anchors as the exports emit them", () => {
    // 128² input: 16², 8², 4², 2², 1² locations.
    expect(anchorLayout(PRESETS["torchvision-fcos"]!).perLevel).toEqual([256, 64, 16, 4, 1]);
    expect(anchorLayout(PRESETS["torchvision-retinanet"]!).perLevel).toEqual([256, 64, 16, 4, 1].map((n) => 9 * n));
  });

  test("SSDlite default boxes follow torchvision's DefaultBoxGenerator", () => {
    const layout = anchorLayout(PRESETS["torchvision-ssdlite"]!);
    // 6 boxes per location on 8², 4², 2², 1², 1², 1² maps.
    expect(layout.perLevel).toEqual([384, 96, 24, 6, 6, 6]);
    // Level 0, cell (0, 0): centre 1/16 of 128; s = 0.2, s' = √(0.2·0.35), then r = 2 and 3 both ways.
    const c = 128 / 16;
    const sizes = [[0.2, 0.2], [Math.sqrt(0.07), Math.sqrt(0.07)], [0.2 * Math.SQRT2, 0.2 / Math.SQRT2], [0.2 / Math.SQRT2, 0.2 * Math.SQRT2], [0.2 * Math.sqrt(3), 0.2 / Math.sqrt(3)], [0.2 / Math.sqrt(3), 0.2 * Math.sqrt(3)]];
    sizes.forEach(([w, h], i) => {
      const box = Array.from(layout.anchors.subarray(4 * i, 4 * i + 4));
      const want = [c - (w! * 128) / 2, c - (h! * 128) / 2, c + (w! * 128) / 2, c + (h! * 128) / 2];
      box.forEach((v, k) => expect(v).toBeCloseTo(want[k]!, 4));
    });
    // Last level (1×1, s = 0.95, s' = √0.95 ≈ 0.975; r = 3 gives w = 0.95·√3, clipped to the image).
    const last = layout.anchors.subarray(layout.anchors.length - 24);
    expect(Array.from(last.subarray(16, 20)).map((v) => Math.round(v * 1000) / 1000)).toEqual([0, 64 - (0.95 / Math.sqrt(3)) * 64, 128, 64 + (0.95 / Math.sqrt(3)) * 64].map((v) => Math.round(v * 1000) / 1000));
  });

  test("SSD default boxes must match the level count", () => {
    const bad = { ...PRESETS["torchvision-ssdlite"]!, ssdDefaultBoxes: { featureSizes: [8, 4], scales: [0.2, 0.5, 1], aspectRatios: [2] } };
    expect(() => anchorLayout(bad)).toThrow("ssdDefaultBoxes needs one feature size per level (6)");
  });

  test("an unknown preset lists the known ones", () => {
    expect(() => loadAdapter("no-such-preset")).toThrow(/presets: tiny-fcos, torchvision-fcos/);
  });
});
