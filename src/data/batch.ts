// Images → network input: letterbox resize (aspect kept, padded bottom/right), optional horizontal
// flip, per-channel normalisation, NCHW float32; boxes follow the same transform.

import type { RGBImage } from "./image.ts";

export interface Normalisation {
  /** Per-channel mean and std on 0…255 values (ImageNet: [123.675, 116.28, 103.53] / [58.395, 57.12, 57.375]). */
  mean: [number, number, number];
  std: [number, number, number];
}

export const IMAGENET: Normalisation = { mean: [123.675, 116.28, 103.53], std: [58.395, 57.12, 57.375] };

export interface Prepared {
  /** [3, size, size] normalised. */
  pixels: Float32Array;
  boxes: Float32Array;
  /** Multiply original coordinates by this to get network coordinates. */
  scale: number;
}

/** Letterbox into a size×size canvas with bilinear resampling; flip mirrors horizontally. */
export function prepareImage(img: RGBImage, boxes: Float32Array, size: number, norm: Normalisation, flip = false): Prepared {
  const scale = Math.min(size / img.width, size / img.height);
  const w = Math.round(img.width * scale);
  const h = Math.round(img.height * scale);
  const pixels = new Float32Array(3 * size * size);
  for (let c = 0; c < 3; c++) pixels.fill((0 - norm.mean[c]!) / norm.std[c]!, c * size * size, (c + 1) * size * size);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(img.height - 1, Math.max(0, (y + 0.5) / scale - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(img.height - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < w; x++) {
      const sx = Math.min(img.width - 1, Math.max(0, (x + 0.5) / scale - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(img.width - 1, x0 + 1);
      const fx = sx - x0;
      const dx = flip ? w - 1 - x : x;
      for (let c = 0; c < 3; c++) {
        const p = (yy: number, xx: number) => img.data[3 * (yy * img.width + xx) + c]!;
        const v = (1 - fy) * ((1 - fx) * p(y0, x0) + fx * p(y0, x1)) + fy * ((1 - fx) * p(y1, x0) + fx * p(y1, x1));
        pixels[c * size * size + y * size + dx] = (v - norm.mean[c]!) / norm.std[c]!;
      }
    }
  }
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    const [x1, y1, x2, y2] = [boxes[i]! * scale, boxes[i + 1]! * scale, boxes[i + 2]! * scale, boxes[i + 3]! * scale];
    out[i] = flip ? w - x2 : x1;
    out[i + 1] = y1;
    out[i + 2] = flip ? w - x1 : x2;
    out[i + 3] = y2;
  }
  return { pixels, boxes: out, scale };
}
