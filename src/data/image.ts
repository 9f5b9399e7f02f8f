// RGB images in memory and their PNG/JPEG files (fast-png, jpeg-js: pure JS, run anywhere).

import { readFileSync } from "node:fs";
import { decode as decodePng, encode as encodePng, hasPngSignature } from "fast-png";
import jpeg from "jpeg-js";

export interface RGBImage {
  width: number;
  height: number;
  /** Row-major RGB, 3 bytes per pixel. */
  data: Uint8Array;
}

export class ImageError extends Error {
  override name = "ImageError";
}

/** PNG bytes of an RGB image. */
export function encodeRGBPng(img: RGBImage): Uint8Array {
  return encodePng({ width: img.width, height: img.height, data: img.data, channels: 3, depth: 8 });
}

/** Decode a PNG or JPEG (by signature) to 8-bit RGB. */
export function decodeImage(bytes: Uint8Array, label = "<image>"): RGBImage {
  try {
    if (hasPngSignature(bytes)) {
      const png = decodePng(bytes);
      if (png.depth !== 8) throw new ImageError(`${label}: ${png.depth}-bit PNG; 8-bit images are supported`);
      const c = png.channels;
      const src = png.data as Uint8Array;
      const data = new Uint8Array(png.width * png.height * 3);
      for (let i = 0; i < png.width * png.height; i++) {
        const g = src[i * c]!;
        data[3 * i] = g;
        data[3 * i + 1] = c >= 3 ? src[i * c + 1]! : g;
        data[3 * i + 2] = c >= 3 ? src[i * c + 2]! : g;
      }
      return { width: png.width, height: png.height, data };
    }
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      const j = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
      return { width: j.width, height: j.height, data: j.data as Uint8Array };
    }
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError(`${label}: corrupt image (${(e as Error).message})`);
  }
  throw new ImageError(`${label}: not a PNG or JPEG file`);
}

/** Read a PNG or JPEG file as 8-bit RGB. */
export function readImage(path: string): RGBImage {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ImageError(`cannot read image ${path}: ${(e as Error).message}`);
  }
  return decodeImage(bytes, path);
}
