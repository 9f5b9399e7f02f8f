import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IMAGENET } from "../../src/data/batch.ts";
import { adapterNormalisation, anchorLayout, loadAdapter, PRESETS } from "../../src/detect/adapter.ts";

describe("detector adapters", () => {
  test("presets default to ImageNet normalisation", () => {
    for (const p of Object.values(PRESETS)) expect(adapterNormalisation(p)).toEqual(IMAGENET);
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

  test("an unknown preset lists the known ones", () => {
    expect(() => loadAdapter("no-such-preset")).toThrow(/presets: tiny-fcos, torchvision-fcos/);
  });
});
