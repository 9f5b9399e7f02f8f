// `ranksort make-data --out DIR [--images 200] [--size 128] [--seed 1] [--max-objects 4]`

import { parseArgs } from "node:util";
import { writeSyntheticDataset } from "../../data/synthetic_dataset.ts";
import { UsageError } from "../usage_error.ts";

export const makeDataUsage = `ranksort make-data --out DIR [--images 200] [--size 128] [--seed 1] [--max-objects 4]

Writes a deterministic synthetic detection dataset in COCO format: DIR/images/*.png and
DIR/annotations.json (classes square, disc, triangle; scale variety and occlusion).`;

export async function makeDataCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { out: { type: "string" }, images: { type: "string", default: "200" }, size: { type: "string", default: "128" }, seed: { type: "string", default: "1" }, "max-objects": { type: "string", default: "4" } },
  });
  if (!values.out) throw new UsageError(`--out DIR is required\n\n${makeDataUsage}`);
  const int = (name: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got ${v}`);
    return n;
  };
  const coco = writeSyntheticDataset(values.out, {
    images: int("images", values.images, 1),
    size: int("size", values.size, 16),
    seed: int("seed", values.seed, 0),
    maxObjects: int("max-objects", values["max-objects"], 1),
  });
  console.log(`wrote ${coco.images.length} images with ${coco.annotations.length} objects to ${values.out}`);
  return 0;
}
