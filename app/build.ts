// Builds the app into a static folder (default build/app) that any web server can host: the page
// and its worker bundled for browsers, onnxruntime-web's .wasm files, the bundled tiny model and a
// generated sample dataset. Nothing is fetched from the network, at build time or in the page.
//
//   bun app/build.ts [--out DIR] [--sample-images N] [--sample-seed S]

import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeSyntheticDataset } from "../src/data/synthetic_dataset.ts";

const root = resolve(import.meta.dir, "..");

export async function buildApp(out: string, sample: { images: number; seed: number }): Promise<void> {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const built = await Bun.build({
    entrypoints: [join(root, "app", "main.ts"), join(root, "app", "train_worker.ts")],
    outdir: out,
    target: "browser",
    format: "esm",
    splitting: true, // the page and the worker share the library chunk
    minify: true,
    sourcemap: "linked",
    // Node-only peers: the browser never reaches them (execution providers wasm and webgpu).
    external: ["onnxruntime-node", "koffi", "webgpu", "bun:ffi"],
  });
  if (!built.success) throw new Error(`bundling the app failed:\n${built.logs.map(String).join("\n")}`);
  for (const f of ["index.html", "style.css"]) copyFileSync(join(root, "app", f), join(out, f));
  // onnxruntime-web's root build (the WASM EP) loads the JSEP binary, its /webgpu build the asyncify one.
  const ort = join(root, "node_modules", "onnxruntime-web", "dist");
  mkdirSync(join(out, "ort"));
  for (const f of ["ort-wasm-simd-threaded.jsep.wasm", "ort-wasm-simd-threaded.jsep.mjs", "ort-wasm-simd-threaded.asyncify.wasm", "ort-wasm-simd-threaded.asyncify.mjs"]) copyFileSync(join(ort, f), join(out, "ort", f));
  mkdirSync(join(out, "models"));
  copyFileSync(join(root, "models", "tiny_fcos_128.onnx"), join(out, "models", "tiny_fcos_128.onnx"));
  const data = join(out, "sample");
  writeSyntheticDataset(data, { images: sample.images, size: 128, seed: sample.seed });
  const files = ["annotations.json", ...readdirSync(join(data, "images")).sort().map((f) => `images/${f}`)];
  writeFileSync(join(data, "files.json"), JSON.stringify(files));
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: "string", default: join(root, "build", "app") }, "sample-images": { type: "string", default: "40" }, "sample-seed": { type: "string", default: "1" } } });
  const images = Number(values["sample-images"]);
  if (!Number.isInteger(images) || images < 2) {
    console.error(`ranksort app: --sample-images must be an integer >= 2, got ${values["sample-images"]}`);
    process.exit(2);
  }
  const t0 = performance.now();
  await buildApp(resolve(values.out!), { images, seed: Number(values["sample-seed"]) });
  console.log(`built the app into ${relative(process.cwd(), resolve(values.out!)) || "."} in ${((performance.now() - t0) / 1000).toFixed(1)} s (a static folder: host it anywhere)`);
}
