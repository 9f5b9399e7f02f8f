// `predict` on files (Node, Bun, Deno): an image or a folder of PNG/JPEG images in; COCO results
// (results.json, with images.json mapping ids to files) and a PNG per image with its boxes drawn out.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { encodeRGBPng, ImageError, readImage } from "../data/image.ts";
import { encodeModel } from "../onnx/model_codec.ts";
import { readModel } from "../onnx/model_io.ts";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { AdapterError, type DetectorAdapter } from "./adapter.ts";
import { drawBoxes } from "./draw_boxes.ts";
import { cocoResults, type CocoResult, predict, type PredictOptions } from "./predict.ts";
import type { ImageDetection } from "./run_detector.ts";

export interface Category {
  id: number;
  name: string;
}

export interface PredictFilesOptions extends PredictOptions {
  /** An .onnx file (external data beside it is loaded). */
  modelPath: string;
  adapter: DetectorAdapter;
  /** An image file, or a folder whose .png/.jpg/.jpeg files are all read (sorted by name). */
  input: string;
  /** Where results.json, images.json and the drawn PNGs go; nothing is written without it. */
  outDir?: string;
  /** Class c is categories[c] (e.g. a COCO annotations file's categories sorted by id); default id c + 1. */
  categories?: readonly Category[];
}

export interface PredictFilesResult {
  files: string[];
  detections: ImageDetection[][];
  results: CocoResult[];
  /** Files written under outDir. */
  written: string[];
}

const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg"]);

/** The image files of `input` (a file or a folder), sorted; a one-line error when there are none. */
export function imageFiles(input: string): string[] {
  if (!existsSync(input)) throw new ImageError(`${input}: no such image file or folder`);
  if (!statSync(input).isDirectory()) return [input];
  const files = readdirSync(input).filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase())).sort().map((f) => join(input, f));
  if (!files.length) throw new ImageError(`${input}: folder holds no .png, .jpg or .jpeg images`);
  return files;
}

/** The categories of a COCO annotations file, sorted by id (the class order training used). */
export function readCategories(path: string): Category[] {
  let json: { categories?: Category[] };
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new AdapterError(`cannot read categories from ${path}: ${(e as Error).message}`);
  }
  if (!Array.isArray(json.categories)) throw new AdapterError(`${path}: no "categories" array`);
  return [...json.categories].sort((a, b) => a.id - b.id);
}

export async function predictFiles(opts: PredictFilesOptions): Promise<PredictFilesResult> {
  const files = imageFiles(opts.input);
  if (opts.categories && opts.categories.length !== opts.adapter.numClasses) {
    throw new AdapterError(`${opts.categories.length} categories given, but the adapter "${opts.adapter.name}" has ${opts.adapter.numClasses} classes`);
  }
  const images = files.map((f) => readImage(f));
  const detections = await predict(encodeModel(readModel(opts.modelPath)), opts.adapter, images, opts);
  const results = cocoResults(detections, files.map((_, i) => i + 1), opts.categories?.map((c) => c.id));
  const written: string[] = [];
  if (opts.outDir) {
    const used = new Set<string>();
    const imageEntries = files.map((f, i) => {
      let name = `${basename(f, extname(f))}.png`;
      for (let k = 2; used.has(name); k++) name = `${basename(f, extname(f))}_${k}.png`;
      used.add(name);
      const drawn = drawBoxes(images[i]!, [...detections[i]!].reverse().map((d) => ({ box: d.box, classIndex: d.classIndex, score: d.score })));
      const out = join(opts.outDir!, name);
      writeFileAtomic(out, encodeRGBPng(drawn));
      written.push(out);
      return { id: i + 1, file_name: f, drawn: name, width: images[i]!.width, height: images[i]!.height };
    });
    for (const [name, value] of [["results.json", results], ["images.json", { images: imageEntries, categories: opts.categories ?? [] }]] as const) {
      const out = join(opts.outDir, name);
      writeFileAtomic(out, `${JSON.stringify(value, null, 1)}\n`);
      written.push(out);
    }
  }
  return { files, detections, results, written };
}
