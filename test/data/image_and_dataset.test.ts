// Decoding and dataset checks that were silently wrong: palette PNGs give their colours, not their
// indices; 16-bit PNGs scale to 8 bits; image sizes are read from headers without decoding; a
// rank_sort case's params.delta counts; δ below the float32 minimum is refused.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encode } from "fast-png";
import jpeg from "jpeg-js";
import { rankSortLoss } from "../../kernels/cpu/rank_sort.ts";
import { MIN_DELTA } from "../../kernels/cpu/inputs.ts";
import { getBackend } from "../../src/backends/index.ts";
import { evaluateCase } from "../../src/cases/evaluate_case.ts";
import { parseCase } from "../../src/cases/golden_case.ts";
import { decodeImage, readImageSize } from "../../src/data/image.ts";

const palette = [[255, 0, 0], [0, 255, 0], [10, 20, 30]];

describe("images", () => {
  test("palette PNGs (8- and 4-bit indices) decode to their colours", () => {
    const png8 = encode({ width: 2, height: 2, data: Uint8Array.from([0, 1, 2, 1]), depth: 8, channels: 1, palette } as never);
    expect(Array.from(decodeImage(png8).data)).toEqual([255, 0, 0, 0, 255, 0, 10, 20, 30, 0, 255, 0]);
    const png4 = encode({ width: 3, height: 1, data: Uint8Array.from([0x12, 0x00]), depth: 4, channels: 1, palette } as never);
    expect(Array.from(decodeImage(png4).data)).toEqual([0, 255, 0, 10, 20, 30, 255, 0, 0]);
  });

  test("16-bit PNGs keep their high byte", () => {
    const png = encode({ width: 1, height: 1, data: Uint16Array.from([0x1234, 0xabcd, 0xff00]), depth: 16, channels: 3 });
    expect(Array.from(decodeImage(png).data)).toEqual([0x12, 0xab, 0xff]);
  });

  test("sizes from PNG and JPEG headers", () => {
    const dir = mkdtempSync(join(tmpdir(), "ranksort-size-"));
    writeFileSync(join(dir, "a.png"), encode({ width: 7, height: 5, data: new Uint8Array(7 * 5 * 3), depth: 8, channels: 3 }));
    writeFileSync(join(dir, "b.jpg"), jpeg.encode({ width: 9, height: 4, data: new Uint8Array(9 * 4 * 4) }, 90).data);
    writeFileSync(join(dir, "c.txt"), "hello");
    expect(readImageSize(join(dir, "a.png"))).toEqual({ width: 7, height: 5 });
    expect(readImageSize(join(dir, "b.jpg"))).toEqual({ width: 9, height: 4 });
    expect(() => readImageSize(join(dir, "c.txt"))).toThrow(/not a PNG or JPEG/);
  });
});

describe("δ and cases", () => {
  const logits = Float32Array.from([2, 1, 0.5, 0.5, -1, 3]);
  const targets = Float32Array.from([0.9, 0, 0.3, 0, 0, 0.5]);

  test("δ is 0 or at least 2^-126; at the bound the losses are finite", () => {
    expect(() => rankSortLoss(logits, targets, { delta: 2.7e-309 })).toThrow(/delta must be 0 or >= 1\.175e-38/);
    expect(() => rankSortLoss(logits, targets, { delta: MIN_DELTA / 2 })).toThrow(/delta must be 0 or >= /);
    const r = rankSortLoss(logits, targets, { delta: MIN_DELTA });
    expect(Number.isFinite(r.rankingLoss) && Number.isFinite(r.sortingLoss) && r.grad.every(Number.isFinite)).toBe(true);
  });

  test("a rank_sort case's params.delta is used when delta_RS is absent", async () => {
    const cpu = await getBackend("cpu");
    // Logits within 0.5 of each other, so δ = 0.05 and the default 0.5 rank them differently.
    const run = (params: object) => evaluateCase(parseCase({ loss: "rank_sort", params, logits: [0.3, 0.2, 0.1, 0.25, 0], targets: [0.9, 0, 0.4, 0, 0] }), cpu);
    const viaDelta = await run({ delta: 0.05 });
    expect(viaDelta).toEqual(await run({ delta_RS: 0.05 }));
    expect(viaDelta).not.toEqual(await run({}));
    expect(() => parseCase({ loss: "ap", params: { delta: "1" }, logits: [], targets: [] }, "c.json")).toThrow(/c\.json: params\.delta is "1", expected a number/);
  });
});
