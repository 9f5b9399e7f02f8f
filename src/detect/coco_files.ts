// COCO ground truth and COCO results files as evaluation reads them (`ranksort eval --annotations
// --detections`): no image files needed, numbers kept exactly as the files hold them (pycocotools
// computes on those), and a one-line error naming the file, entry and field for anything malformed.

import { readFileSync } from "node:fs";
import { DatasetError } from "../data/coco.ts";
import type { Detection, GroundTruth, XYWH } from "./evaluate.ts";

export interface GroundTruthFile {
  path: string;
  imageIds: Set<number>;
  /** Sorted by id. */
  categories: { id: number; name: string }[];
  /** In file order; `category` is the COCO category_id. */
  groundTruth: GroundTruth[];
  /** How many annotations have id 0 (pycocotools mistakes a match with one of these for no match). */
  zeroIdAnnotations: number;
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new DatasetError(`cannot read ${what} ${path}: ${(e as { code?: string }).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const hint = /\b(NaN|-?Infinity)\b/.test(text) ? " (NaN and Infinity are not JSON: some score or coordinate was not a number)" : "";
    throw new DatasetError(`${path} is not valid JSON: ${(e as Error).message}${hint}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const show = (v: unknown) => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** A COCO [x, y, w, h] of four finite numbers with w, h ≥ 0, or an error naming `where`. */
function checkBBox(v: unknown, where: string): XYWH {
  if (!Array.isArray(v) || v.length !== 4 || !v.every((x) => typeof x === "number" && Number.isFinite(x)) || v[2] < 0 || v[3] < 0) {
    throw new DatasetError(`${where} has a bad bbox ${show(v)} (expected [x, y, width, height]: four finite numbers, width and height ≥ 0)`);
  }
  return v as XYWH;
}

function checkFlag(v: unknown, where: string, field: string): boolean {
  if (v === undefined || v === 0 || v === 1 || typeof v === "boolean") return !!v;
  throw new DatasetError(`${where} has ${field} ${show(v)} (expected 0 or 1)`);
}

function checkId(v: unknown, where: string, field: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new DatasetError(`${where} has ${field} ${show(v)} (expected a number)`);
  return v;
}

/** A COCO instances file: images, categories and annotations (bbox, area, iscrowd, ignore). */
export function readGroundTruthFile(path: string): GroundTruthFile {
  const json = readJson(path, "COCO annotations");
  if (!isObject(json) || !Array.isArray(json.images) || !Array.isArray(json.annotations) || !Array.isArray(json.categories)) {
    throw new DatasetError(`${path}: expected an object with "images", "annotations" and "categories" arrays (a COCO instances file)`);
  }
  const imageIds = new Set<number>();
  json.images.forEach((im, i) => {
    const id = checkId(isObject(im) ? im.id : undefined, `${path}: images[${i}]`, "id");
    if (imageIds.has(id)) throw new DatasetError(`${path}: image id ${id} appears twice`);
    imageIds.add(id);
  });
  const categories: { id: number; name: string }[] = [];
  const categoryIds = new Set<number>();
  json.categories.forEach((c, i) => {
    const id = checkId(isObject(c) ? c.id : undefined, `${path}: categories[${i}]`, "id");
    if (categoryIds.has(id)) throw new DatasetError(`${path}: category id ${id} appears twice`);
    categoryIds.add(id);
    categories.push({ id, name: isObject(c) && typeof c.name === "string" ? c.name : String(id) });
  });
  categories.sort((a, b) => a.id - b.id);
  const annotationIds = new Set<number>();
  let zeroIdAnnotations = 0;
  const groundTruth = json.annotations.map((a, i): GroundTruth => {
    const where = `${path}: annotations[${i}]`;
    if (!isObject(a)) throw new DatasetError(`${where} is not an object`);
    if (a.id !== undefined) {
      const id = checkId(a.id, where, "id");
      if (annotationIds.has(id)) throw new DatasetError(`${where} repeats annotation id ${id} (pycocotools would silently evaluate only one of them)`);
      annotationIds.add(id);
      if (id === 0) zeroIdAnnotations++;
    }
    const image = checkId(a.image_id, where, "image_id");
    if (!imageIds.has(image)) throw new DatasetError(`${where} refers to unknown image_id ${image}`);
    const category = checkId(a.category_id, where, "category_id");
    if (!categoryIds.has(category)) throw new DatasetError(`${where} has unknown category_id ${category} (known: ${categories.map((c) => c.id).join(", ")})`);
    const bbox = checkBBox(a.bbox, where);
    if (a.area !== undefined && !(typeof a.area === "number" && a.area >= 0)) throw new DatasetError(`${where} has a bad area ${show(a.area)} (expected a number ≥ 0)`);
    return {
      image,
      category,
      box: [bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]],
      bbox,
      area: (a.area as number | undefined) ?? bbox[2] * bbox[3],
      iscrowd: checkFlag(a.iscrowd, where, "iscrowd"),
      ignore: checkFlag(a.ignore, where, "ignore"),
    };
  });
  return { path, imageIds, categories, groundTruth, zeroIdAnnotations };
}

/** A COCO results file `[{image_id, category_id, bbox: [x, y, w, h], score}, …]` against its ground truth. */
export function readResultsFile(path: string, gt: GroundTruthFile): Detection[] {
  const json = readJson(path, "COCO results");
  if (!Array.isArray(json)) throw new DatasetError(`${path}: expected a JSON array of detections [{"image_id", "category_id", "bbox": [x, y, width, height], "score"}], got ${isObject(json) ? "an object" : show(json)}`);
  const categoryIds = new Set(gt.categories.map((c) => c.id));
  return json.map((d, i): Detection => {
    const where = `${path}: detection ${i}`;
    if (!isObject(d)) throw new DatasetError(`${where} is not an object`);
    const image = checkId(d.image_id, where, "image_id");
    if (!gt.imageIds.has(image)) throw new DatasetError(`${where} has image_id ${image}, which is not an image of ${gt.path}`);
    const category = checkId(d.category_id, where, "category_id");
    if (!categoryIds.has(category)) throw new DatasetError(`${where} has category_id ${category}, which is not a category of ${gt.path} (known: ${[...categoryIds].join(", ")})`);
    const bbox = checkBBox(d.bbox, where);
    if (typeof d.score !== "number" || !Number.isFinite(d.score)) throw new DatasetError(`${where} has score ${show(d.score)} (expected a finite number)`);
    return { image, category, box: [bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]], bbox, score: d.score };
  });
}
