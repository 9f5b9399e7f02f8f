// COCO-format detection datasets: annotations JSON + image files, validated on load.

import { isAbsolute, join, relative, resolve } from "node:path";
import { readImageSize } from "./image.ts";
import { memoryFile } from "./memory_files.ts";
import { nodeBuiltin } from "../util/node_builtins.ts";
import type { CocoJson } from "./synthetic_dataset.ts";

export class DatasetError extends Error {
  override name = "DatasetError";
}

export interface DetectionSample {
  imageId: number;
  path: string;
  width: number;
  height: number;
  /** [x1, y1, x2, y2] per object. */
  boxes: Float32Array;
  /** Contiguous class index 0 … C−1 per object. */
  classes: Int32Array;
  /**
   * [x1, y1, x2, y2] per crowd region (`iscrowd: 1`) or `ignore: 1` annotation. These are not in
   * `boxes`: they are no training targets, and anchors on them are ignored rather than negatives.
   */
  ignoreRegions: Float32Array;
  /** Every annotation of the image, in file order and with the file's own numbers: what evaluation compares with. */
  annotations: SampleAnnotation[];
}

/** One annotation as evaluation reads it (pycocotools semantics: float64 COCO box, the file's area). */
export interface SampleAnnotation {
  /** COCO [x, y, width, height] as in the file. */
  bbox: [number, number, number, number];
  /** The annotation's `area` (segmentation area in COCO; the size ranges use it), else width × height. */
  area: number;
  classIndex: number;
  iscrowd: boolean;
  ignore: boolean;
}

export interface CocoDataset {
  categories: { id: number; name: string }[];
  samples: DetectionSample[];
}

/** Whether `path` is a file on disk (false where the host has no file system: a page's memory files only). */
function onDisk(path: string): boolean {
  try {
    return nodeBuiltin("node:fs", "checking image files").existsSync(path);
  } catch {
    return false;
  }
}

/**
 * Load `annotations` (default `<dir>/annotations.json`, images under `<dir>/images/`). Errors name
 * the annotation: a missing image file, a box outside its image, an unknown category, a bad bbox.
 */
export function loadCoco(dir: string, annotations = join(dir, "annotations.json"), imageDir = join(dir, "images")): CocoDataset {
  let json: CocoJson;
  try {
    const held = memoryFile(annotations);
    json = JSON.parse(held ? new TextDecoder().decode(held) : nodeBuiltin("node:fs", `reading ${annotations}`).readFileSync(annotations, "utf8"));
  } catch (e) {
    throw new DatasetError(`cannot read COCO annotations ${annotations}: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null || !Array.isArray(json.images) || !Array.isArray(json.annotations) || !Array.isArray(json.categories)) {
    throw new DatasetError(`${annotations}: expected "images", "annotations" and "categories" arrays`);
  }
  const fail = (what: string): never => {
    throw new DatasetError(`${annotations}: ${what}`);
  };
  const isId = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v);
  if (!json.images.length) fail("no images");
  if (!json.categories.length) fail("no categories");
  const categoryIds = new Map<number, number>();
  json.categories.forEach((c, i) => {
    if (!isId(c?.id)) fail(`category ${i} has no integer "id" (got ${JSON.stringify(c?.id)})`);
    if (categoryIds.has(c.id)) fail(`category id ${c.id} appears twice (categories ${categoryIds.get(c.id)} and ${i})`);
    categoryIds.set(c.id, i);
  });
  const imageIds = new Map<number, number>();
  const root = resolve(imageDir);
  json.images.forEach((im, i) => {
    if (!isId(im?.id)) fail(`image ${i} has no integer "id" (got ${JSON.stringify(im?.id)})`);
    if (imageIds.has(im.id)) fail(`image id ${im.id} appears twice (images ${imageIds.get(im.id)} and ${i}); annotations could not tell them apart`);
    imageIds.set(im.id, i);
    if (typeof im.file_name !== "string" || !im.file_name) fail(`image ${im.id} has no "file_name"`);
    const rel = relative(root, resolve(root, im.file_name));
    if (isAbsolute(im.file_name) || rel.startsWith("..") || isAbsolute(rel)) fail(`image ${im.id} file_name "${im.file_name}" points outside ${imageDir}`);
    for (const k of ["width", "height"] as const) if (!isId(im[k]) || im[k] <= 0) fail(`image ${im.id} has no positive integer "${k}" (got ${JSON.stringify(im[k])})`);
  });
  const categories = [...json.categories].sort((a, b) => a.id - b.id);
  const classOf = new Map(categories.map((c, i) => [c.id, i]));
  const images = new Map(json.images.map((im) => [im.id, im]));
  const byImage = new Map<number, { box: number[]; cls: number; annotation: SampleAnnotation }[]>();
  json.annotations.forEach((a, i) => {
    const label = isId(a?.id) ? `annotation ${a.id}` : `annotation ${i} (no id)`;
    const im = images.get(a?.image_id);
    if (!im) fail(`${label} refers to unknown image ${a?.image_id}`);
    const cls = classOf.get(a.category_id);
    if (cls === undefined) fail(`${label} has unknown category ${a.category_id} (known: ${categories.map((c) => c.id).join(", ")})`);
    if (!Array.isArray(a.bbox)) fail(`${label} has no "bbox" (expected [x, y, width, height])`);
    if (a.bbox.length !== 4) fail(`${label} bbox has ${a.bbox.length} numbers, expected [x, y, width, height]`);
    const [x, y, w, h] = a.bbox;
    if (![x, y, w, h].every((v) => typeof v === "number" && Number.isFinite(v)) || w! <= 0 || h! <= 0) fail(`${label} has a bad bbox [${a.bbox.join(", ")}]`);
    const tol = 1;
    if (x! < -tol || y! < -tol || x! + w! > im!.width + tol || y! + h! > im!.height + tol) {
      fail(`${label} box [${a.bbox.join(", ")}] lies outside image ${im!.id} (${im!.width}×${im!.height})`);
    }
    const { iscrowd, ignore, area } = a as { iscrowd?: unknown; ignore?: unknown; area?: unknown };
    if (area !== undefined && !(typeof area === "number" && area >= 0)) fail(`${label} has a bad area ${JSON.stringify(area)} (expected a number ≥ 0)`);
    const annotation = { bbox: [x!, y!, w!, h!] as [number, number, number, number], area: (area as number | undefined) ?? w! * h!, classIndex: cls!, iscrowd: !!iscrowd, ignore: !!ignore };
    byImage.set(a.image_id, [...(byImage.get(a.image_id) ?? []), { box: [x!, y!, x! + w!, y! + h!], cls: cls!, annotation }]);
  });
  const samples = json.images.map((im) => {
    const path = join(imageDir, im.file_name);
    if (!memoryFile(path) && !onDisk(path)) throw new DatasetError(`${annotations}: image ${im.id} file ${path} is missing`);
    // Boxes are in the annotated size's pixels: an image of another size would put them elsewhere.
    const real = readImageSize(path);
    if (real.width !== im.width || real.height !== im.height) fail(`image ${im.id} (${path}) is ${real.width}×${real.height}, but the annotations say ${im.width}×${im.height}`);
    const all = byImage.get(im.id) ?? [];
    const objs = all.filter((o) => !o.annotation.iscrowd && !o.annotation.ignore);
    return {
      imageId: im.id,
      path,
      width: im.width,
      height: im.height,
      boxes: Float32Array.from(objs.flatMap((o) => o.box)),
      classes: Int32Array.from(objs.map((o) => o.cls)),
      ignoreRegions: Float32Array.from(all.filter((o) => o.annotation.iscrowd || o.annotation.ignore).flatMap((o) => o.box)),
      annotations: all.map((o) => o.annotation),
    };
  });
  return { categories, samples };
}
