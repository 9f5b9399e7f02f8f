// COCO-format detection datasets: annotations JSON + image files, validated on load.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
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

/**
 * Load `annotations` (default `<dir>/annotations.json`, images under `<dir>/images/`). Errors name
 * the annotation: a missing image file, a box outside its image, an unknown category, a bad bbox.
 */
export function loadCoco(dir: string, annotations = join(dir, "annotations.json"), imageDir = join(dir, "images")): CocoDataset {
  let json: CocoJson;
  try {
    json = JSON.parse(readFileSync(annotations, "utf8"));
  } catch (e) {
    throw new DatasetError(`cannot read COCO annotations ${annotations}: ${(e as Error).message}`);
  }
  if (!Array.isArray(json.images) || !Array.isArray(json.annotations) || !Array.isArray(json.categories)) {
    throw new DatasetError(`${annotations}: expected "images", "annotations" and "categories" arrays`);
  }
  const categories = [...json.categories].sort((a, b) => a.id - b.id);
  const classOf = new Map(categories.map((c, i) => [c.id, i]));
  const images = new Map(json.images.map((im) => [im.id, im]));
  const byImage = new Map<number, { box: number[]; cls: number; annotation: SampleAnnotation }[]>();
  for (const a of json.annotations) {
    const im = images.get(a.image_id);
    if (!im) throw new DatasetError(`${annotations}: annotation ${a.id} refers to unknown image ${a.image_id}`);
    const cls = classOf.get(a.category_id);
    if (cls === undefined) throw new DatasetError(`${annotations}: annotation ${a.id} has unknown category ${a.category_id} (known: ${categories.map((c) => c.id).join(", ")})`);
    const [x, y, w, h] = a.bbox;
    if (![x, y, w, h].every((v) => Number.isFinite(v)) || w! <= 0 || h! <= 0) throw new DatasetError(`${annotations}: annotation ${a.id} has a bad bbox [${a.bbox.join(", ")}]`);
    const tol = 1;
    if (x! < -tol || y! < -tol || x! + w! > im.width + tol || y! + h! > im.height + tol) {
      throw new DatasetError(`${annotations}: annotation ${a.id} box [${a.bbox.join(", ")}] lies outside image ${im.id} (${im.width}×${im.height})`);
    }
    const { iscrowd, ignore, area } = a as { iscrowd?: unknown; ignore?: unknown; area?: unknown };
    if (area !== undefined && !(typeof area === "number" && area >= 0)) throw new DatasetError(`${annotations}: annotation ${a.id} has a bad area ${JSON.stringify(area)} (expected a number ≥ 0)`);
    const annotation = { bbox: [x!, y!, w!, h!] as [number, number, number, number], area: (area as number | undefined) ?? w! * h!, classIndex: cls, iscrowd: !!iscrowd, ignore: !!ignore };
    byImage.set(a.image_id, [...(byImage.get(a.image_id) ?? []), { box: [x!, y!, x! + w!, y! + h!], cls, annotation }]);
  }
  const samples = json.images.map((im) => {
    const path = join(imageDir, im.file_name);
    if (!existsSync(path)) throw new DatasetError(`${annotations}: image ${im.id} file ${path} is missing`);
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
