// RGB images in memory and their PNG/JPEG files (fast-png, jpeg-js: pure JS, run anywhere).

import { convertIndexedToRgb, decode as decodePng, encode as encodePng, hasPngSignature } from "fast-png";
import jpeg from "jpeg-js";
import { nodeBuiltin } from "../util/node_builtins.ts";
import { memoryFile } from "./memory_files.ts";

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
      let c = png.channels;
      let src: Uint8Array;
      if (png.palette) {
        // Indexed colour: the data are palette indices; look the colours up (RGB or RGBA entries).
        src = convertIndexedToRgb(png);
        c = png.palette[0]?.length ?? 3;
      } else if (png.depth === 16) {
        src = Uint8Array.from(png.data as Uint16Array, (v) => v >> 8);
      } else if (png.depth === 8) {
        src = png.data as Uint8Array;
      } else {
        throw new ImageError(`${label}: ${png.depth}-bit greyscale PNG; 8- and 16-bit images and palette images are supported`);
      }
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

/** Read a PNG or JPEG file (or a memory file, memory_files.ts) as 8-bit RGB. */
export function readImage(path: string): RGBImage {
  let bytes: Uint8Array;
  try {
    bytes = memoryFile(path) ?? nodeBuiltin("node:fs", `reading image ${path}`).readFileSync(path);
  } catch (e) {
    throw new ImageError(`cannot read image ${path}: ${(e as Error).message}`);
  }
  return decodeImage(bytes, path);
}

/**
 * Width and height from a PNG's IHDR or a JPEG's frame header, reading only the file's start: the
 * dataset check of every image against its annotated size, without decoding the images.
 */
export function readImageSize(path: string): { width: number; height: number } {
  let bytes: Uint8Array;
  const held = memoryFile(path);
  if (held) bytes = held;
  else {
    try {
      const { closeSync, openSync, readSync } = nodeBuiltin("node:fs", `reading image ${path}`);
      const fd = openSync(path, "r");
      try {
        const head = new Uint8Array(65536);
        bytes = head.subarray(0, readSync(fd, head, 0, head.length, 0));
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      throw new ImageError(`cannot read image ${path}: ${(e as Error).message}`);
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (hasPngSignature(bytes)) {
    if (bytes.length < 24) throw new ImageError(`${path}: truncated PNG`);
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    for (let i = 2; ; ) {
      if (i + 9 > bytes.length) {
        // A header past the first 64 KB (large metadata): read it all.
        if (bytes.length === 65536) return decodeImage(held ?? nodeBuiltin("node:fs", `reading image ${path}`).readFileSync(path), path);
        throw new ImageError(`${path}: JPEG without a frame header (truncated?)`);
      }
      if (bytes[i] !== 0xff) throw new ImageError(`${path}: corrupt JPEG (no marker at byte ${i})`);
      const marker = bytes[i + 1]!;
      if (marker === 0xff) {
        i++;
        continue;
      }
      // SOF0…SOF15 carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: view.getUint16(i + 7), height: view.getUint16(i + 5) };
      }
      i += 2 + view.getUint16(i + 2);
    }
  }
  throw new ImageError(`${path}: not a PNG or JPEG file`);
}
