// Boxes and score labels drawn into RGB images (predict's pictures, the run report): each box is a
// class colour with a one-pixel black rim on either side, and each label is white digits on a
// black plate, so both read on light and dark images alike.

import type { RGBImage } from "../data/image.ts";

/** Distinct, light class colours (index = class % length): they stand out against natural and primary-coloured scenes. */
export const CLASS_COLOURS: readonly [number, number, number][] = [
  [255, 230, 0], [255, 0, 255], [0, 255, 255], [255, 140, 0], [255, 255, 255], [140, 255, 0], [255, 120, 160], [120, 170, 255],
];

/** A box to draw: [x1, y1, x2, y2] in the image's pixels; `score` is printed at its top-left. */
export interface DrawnBox {
  box: readonly number[];
  classIndex: number;
  score?: number;
  /** Dashed white: ground truth in the report. */
  dashed?: boolean;
}

// 3×5 bitmap digits and '.', one row per 3-bit number.
const GLYPHS: Record<string, number[]> = {
  "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7], "4": [5, 5, 7, 1, 1],
  "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1], "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7], ".": [0, 0, 0, 0, 2],
};

function setPixel(img: RGBImage, x: number, y: number, c: readonly number[]): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const o = 3 * (y * img.width + x);
  img.data[o] = c[0]!;
  img.data[o + 1] = c[1]!;
  img.data[o + 2] = c[2]!;
}

function rectangle(img: RGBImage, x1: number, y1: number, x2: number, y2: number, c: readonly number[], dashed = false): void {
  for (let x = x1; x <= x2; x++) if (!dashed || (x >> 1) % 2 === 0) [y1, y2].forEach((y) => setPixel(img, x, y, c));
  for (let y = y1; y <= y2; y++) if (!dashed || (y >> 1) % 2 === 0) [x1, x2].forEach((x) => setPixel(img, x, y, c));
}

/** Text of digits and '.' at (x, y), white on a black plate, scaled by `scale`. */
export function drawLabel(img: RGBImage, text: string, x: number, y: number, scale = 1): void {
  const w = (4 * text.length + 1) * scale;
  const h = 7 * scale;
  for (let dy = 0; dy < h; dy++) for (let dx = 0; dx < w; dx++) setPixel(img, x + dx, y + dy, [0, 0, 0]);
  [...text].forEach((ch, i) => {
    const rows = GLYPHS[ch];
    if (!rows) return;
    rows.forEach((bits, r) => {
      for (let b = 0; b < 3; b++) {
        if (!((bits >> (2 - b)) & 1)) continue;
        for (let sy = 0; sy < scale; sy++) for (let sx = 0; sx < scale; sx++) setPixel(img, x + (1 + 4 * i + b) * scale + sx, y + (1 + r) * scale + sy, [255, 255, 255]);
      }
    });
  });
}

/** A copy of `image` with the boxes drawn (later boxes on top); labels scale up on large images. */
export function drawBoxes(image: RGBImage, boxes: readonly DrawnBox[]): RGBImage {
  // Ground truth (dashed) is white; predictions take the class colours.
  const img: RGBImage = { width: image.width, height: image.height, data: new Uint8Array(image.data) };
  const scale = Math.max(1, Math.round(Math.min(img.width, img.height) / 160));
  for (const b of boxes) {
    const [x1, y1, x2, y2] = b.box.map((v) => Math.round(v)) as [number, number, number, number];
    const colour = b.dashed ? [255, 255, 255] : CLASS_COLOURS[b.classIndex % CLASS_COLOURS.length]!;
    if (!b.dashed) {
      rectangle(img, x1 - 1, y1 - 1, x2 + 1, y2 + 1, [0, 0, 0]);
      rectangle(img, x1 + 1, y1 + 1, x2 - 1, y2 - 1, [0, 0, 0]);
    }
    rectangle(img, x1, y1, x2, y2, colour, b.dashed);
    if (b.score !== undefined) drawLabel(img, b.score.toFixed(2).replace(/^0/, ""), x1, Math.max(0, y1 - 7 * scale), scale);
  }
  return img;
}

/** `#rrggbb` of a class colour, for legends. */
export function classColourHex(classIndex: number): string {
  return `#${CLASS_COLOURS[classIndex % CLASS_COLOURS.length]!.map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}
