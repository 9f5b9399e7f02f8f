// A second generated detection domain, unlike the shapes of synthetic_dataset.ts in both classes and
// appearance: rings and crosses (outlines, not filled shapes) in random colours — colour says
// nothing about the class — on bright striped backgrounds. The fine-tuning demo moves a detector
// pre-trained on the shapes to this domain.

import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { mulberry32 } from "../util/random.ts";
import { encodeRGBPng, type RGBImage } from "./image.ts";
import type { CocoJson, SyntheticSpec } from "./synthetic_dataset.ts";

export const MARK_CATEGORIES = [
  { id: 1, name: "ring" },
  { id: 2, name: "cross" },
] as const;

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

export function renderMarksImage(id: number, size: number, seed: number, maxObjects: number) {
  const rand = mulberry32(seed * 7_919 + id * 31 + 5);
  const data = new Uint8Array(size * size * 3);
  const base = [150 + rand() * 90, 150 + rand() * 90, 150 + rand() * 90];
  const period = 6 + Math.floor(rand() * 10);
  const angle = rand() * Math.PI;
  const [cx, cy] = [Math.cos(angle), Math.sin(angle)];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const stripe = Math.floor((x * cx + y * cy) / period) % 2 === 0 ? 18 : -18;
      const n = (rand() - 0.5) * 24;
      for (let ch = 0; ch < 3; ch++) data[3 * (y * size + x) + ch] = clamp(base[ch]! + stripe + n);
    }
  }
  const objects: { cat: number; box: [number, number, number, number] }[] = [];
  const count = 1 + Math.floor(rand() * maxObjects);
  for (let o = 0; o < count; o++) {
    const cat = Math.floor(rand() * MARK_CATEGORIES.length);
    const s = Math.round(size * (0.15 + rand() * 0.35));
    const x0 = Math.floor(rand() * (size - s));
    const y0 = Math.floor(rand() * (size - s));
    const colour = [rand() * 140, rand() * 140, rand() * 140];
    const thickness = 0.12 + rand() * 0.1;
    for (let y = y0; y < y0 + s; y++) {
      for (let x = x0; x < x0 + s; x++) {
        const u = (x + 0.5 - x0) / s - 0.5;
        const v = (y + 0.5 - y0) / s - 0.5;
        const r = Math.sqrt(u * u + v * v);
        const inside = cat === 0 ? r <= 0.5 && r >= 0.5 - thickness : Math.abs(u) <= thickness / 2 || Math.abs(v) <= thickness / 2;
        if (!inside) continue;
        const n = (rand() - 0.5) * 16;
        for (let ch = 0; ch < 3; ch++) data[3 * (y * size + x) + ch] = clamp(colour[ch]! + n);
      }
    }
    objects.push({ cat, box: [x0, y0, s, s] });
  }
  const image: RGBImage = { width: size, height: size, data };
  return { image, objects };
}

/** Write `images/NNNNN.png` and `annotations.json` of the marks domain under `dir`. */
export function writeMarksDataset(dir: string, spec: SyntheticSpec): CocoJson {
  const coco: CocoJson = { images: [], annotations: [], categories: MARK_CATEGORIES.map((c) => ({ ...c })) };
  let annId = 1;
  for (let id = 1; id <= spec.images; id++) {
    const { image, objects } = renderMarksImage(id, spec.size, spec.seed ?? 1, spec.maxObjects ?? 3);
    const file = `${String(id).padStart(5, "0")}.png`;
    writeFileAtomic(join(dir, "images", file), encodeRGBPng(image));
    coco.images.push({ id, file_name: file, width: spec.size, height: spec.size });
    for (const o of objects) coco.annotations.push({ id: annId++, image_id: id, category_id: MARK_CATEGORIES[o.cat]!.id, bbox: o.box, area: o.box[2] * o.box[3], iscrowd: 0 });
  }
  writeFileAtomic(join(dir, "annotations.json"), JSON.stringify(coco));
  return coco;
}
