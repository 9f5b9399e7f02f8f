// Writes docs/predict.png, the README's picture of `predict`: the demo's trained model (npm run demo
// → runs/demo) on three of its held-out images, upscaled 2× before drawing so boxes and scores stay
// crisp. Run: bun docs/make_predict_figure.ts [runs/demo] [score]
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { drawBoxes, encodeRGBPng, PRESETS, predict, readCategories, readImage, type RGBImage } from "../src/entries/detect.ts";
import { encodeModel } from "../src/index.ts";
import { readModel } from "../src/entries/onnx.ts";
import { writeFileAtomic } from "../src/util/atomic_write.ts";

const run = process.argv[2] ?? "runs/demo";
const score = Number(process.argv[3] ?? 0.03);
const dir = join(run, "data", "images");
const files = readdirSync(dir).sort().slice(-3).map((f) => join(dir, f));
const images = files.map((f) => readImage(f));
const detections = await predict(encodeModel(readModel(join(run, "model.onnx"))), PRESETS["tiny-fcos"]!, images, { scoreThreshold: score });
const k = 2;
const upscale = (img: RGBImage): RGBImage => {
  const out = { width: img.width * k, height: img.height * k, data: new Uint8Array(img.width * img.height * k * k * 3) };
  for (let y = 0; y < out.height; y++) for (let x = 0; x < out.width; x++) out.data.set(img.data.subarray(3 * (((y / k) | 0) * img.width + ((x / k) | 0)), 3 * (((y / k) | 0) * img.width + ((x / k) | 0)) + 3), 3 * (y * out.width + x));
  return out;
};
const tiles = images.map((img, i) => drawBoxes(upscale(img), detections[i]!.map((d) => ({ box: d.box.map((v) => v * k), classIndex: d.classIndex, score: d.score }))));
const gap = 6;
const W = tiles.reduce((w, t) => w + t.width, 0) + gap * (tiles.length - 1);
const H = Math.max(...tiles.map((t) => t.height));
const sheet: RGBImage = { width: W, height: H, data: new Uint8Array(W * H * 3).fill(255) };
let x0 = 0;
for (const t of tiles) {
  for (let y = 0; y < t.height; y++) sheet.data.set(t.data.subarray(3 * y * t.width, 3 * (y + 1) * t.width), 3 * (y * W + x0));
  x0 += t.width + gap;
}
writeFileAtomic(join("docs", "predict.png"), encodeRGBPng(sheet));
const names = readCategories(join(run, "data", "annotations.json")).map((c) => c.name);
console.log(`docs/predict.png: ${files.length} images, ${detections.flat().length} boxes at score ≥ ${score} (${detections.flat().map((d) => `${names[d.classIndex]} ${d.score.toFixed(2)}`).join(", ")})`);
