// A deterministic synthetic detection dataset in COCO format: shapes of several classes on textured
// backgrounds, with scale variety and occlusion (objects drawn later cover earlier ones; an object
// left less than 40% visible is dropped from the annotations). The bundled default for the demo and
// the tests: nothing downloads.

import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { mulberry32 } from "../util/random.ts";
import { encodeRGBPng, type RGBImage } from "./image.ts";

export interface SyntheticSpec {
  images: number;
  size: number;
  seed?: number;
  /** Objects per image: 1 … maxObjects. */
  maxObjects?: number;
}

export const SYNTHETIC_CATEGORIES = [
  { id: 1, name: "square" },
  { id: 2, name: "disc" },
  { id: 3, name: "triangle" },
] as const;

const COLORS: [number, number, number][] = [
  [220, 60, 50],
  [60, 170, 80],
  [60, 90, 220],
];

export interface CocoJson {
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: { id: number; image_id: number; category_id: number; bbox: [number, number, number, number]; area: number; iscrowd: 0 }[];
  categories: { id: number; name: string }[];
}

/** Render one image and its annotations. */
export function renderSyntheticImage(id: number, size: number, seed: number, maxObjects: number) {
  const rand = mulberry32(seed * 100_003 + id);
  const data = new Uint8Array(size * size * 3);
  const owner = new Int32Array(size * size).fill(-1);
  const [br, bg, bb] = [rand() * 120, rand() * 120, rand() * 120];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const k = 3 * (y * size + x);
      const n = (rand() - 0.5) * 30;
      data[k] = clamp(br + (x / size) * 60 + n);
      data[k + 1] = clamp(bg + (y / size) * 60 + n);
      data[k + 2] = clamp(bb + n);
    }
  }
  const objects: { cat: number; box: [number, number, number, number]; pixels: number }[] = [];
  const count = 1 + Math.floor(rand() * maxObjects);
  for (let o = 0; o < count; o++) {
    const cat = Math.floor(rand() * SYNTHETIC_CATEGORIES.length);
    const s = size * (0.1 + rand() * 0.4); // scale variety: 10% … 50% of the image
    const aspect = 0.7 + rand() * 0.6;
    const w = Math.round(s * aspect);
    const h = Math.round(s / aspect);
    const x0 = Math.floor(rand() * (size - w));
    const y0 = Math.floor(rand() * (size - h));
    const shade = 0.75 + rand() * 0.5;
    let pixels = 0;
    for (let y = y0; y < y0 + h; y++) {
      for (let x = x0; x < x0 + w; x++) {
        const u = (x + 0.5 - x0) / w;
        const v = (y + 0.5 - y0) / h;
        const inside = cat === 0 ? true : cat === 1 ? (u - 0.5) * (u - 0.5) + (v - 0.5) * (v - 0.5) <= 0.25 : v >= Math.abs(u - 0.5) * 2;
        if (!inside) continue;
        const k = 3 * (y * size + x);
        const n = (rand() - 0.5) * 20;
        for (let ch = 0; ch < 3; ch++) data[k + ch] = clamp(COLORS[cat]![ch]! * shade + n);
        owner[y * size + x] = o;
        pixels++;
      }
    }
    objects.push({ cat, box: [x0, y0, w, h], pixels });
  }
  const visible = new Int32Array(objects.length);
  for (const o of owner) if (o >= 0) visible[o]!++;
  const kept = objects.map((o, i) => ({ ...o, visible: visible[i]! })).filter((o) => o.pixels > 0 && o.visible / o.pixels >= 0.4);
  const image: RGBImage = { width: size, height: size, data };
  return { image, objects: kept };
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** Write `images/NNNNN.png` and `annotations.json` under `dir`; returns the COCO JSON. */
export function writeSyntheticDataset(dir: string, spec: SyntheticSpec): CocoJson {
  const coco: CocoJson = { images: [], annotations: [], categories: SYNTHETIC_CATEGORIES.map((c) => ({ ...c })) };
  let annId = 1;
  for (let id = 1; id <= spec.images; id++) {
    const { image, objects } = renderSyntheticImage(id, spec.size, spec.seed ?? 1, spec.maxObjects ?? 4);
    const file = `${String(id).padStart(5, "0")}.png`;
    writeFileAtomic(join(dir, "images", file), encodeRGBPng(image));
    coco.images.push({ id, file_name: file, width: spec.size, height: spec.size });
    for (const o of objects) {
      coco.annotations.push({ id: annId++, image_id: id, category_id: SYNTHETIC_CATEGORIES[o.cat]!.id, bbox: o.box, area: o.box[2] * o.box[3], iscrowd: 0 });
    }
  }
  writeFileAtomic(join(dir, "annotations.json"), JSON.stringify(coco));
  return coco;
}
