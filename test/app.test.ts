// The browser app end to end (app/): built as a static folder, served on 127.0.0.1, driven in
// Debian's headless Chromium. WASM: train 2 epochs on the bundled sample with a pause and a tab
// reload in between, then the downloaded model in onnxruntime-node against the page's last
// evaluation, and the page's losses against `ranksort train`'s (same seed, same EP: identical).
// WebGPU (SwiftShader, slow: a 4-image sample): the backend, the loss falling, and the losses
// against the WASM EP's. Skipped, with the reason printed, where chromium is not installed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { strToU8, zipSync } from "fflate";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildApp } from "../app/build.ts";
import { serveApp } from "../app/serve.ts";
import { DetectorRunner, loadCoco, PRESETS, readImage, split, trainDetector } from "../src/entries/detect.ts";
import { appState, chromiumPath, collectErrors, launch, waitForState } from "./support/app_page.ts";

const root = resolve(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "ranksort-app-"));
// UPDATE_SCREENSHOTS=1 refreshes the README's copies under docs/app/.
const shots = process.env.UPDATE_SCREENSHOTS ? join(root, "docs", "app") : join(work, "shots");
if (!chromiumPath) console.log("app tests skipped: no Debian chromium (apt-get install chromium)");

/** `ranksort train`'s run on a built app's sample folder: its per-epoch mean losses and AP50s (epoch 0 first). */
async function cliRun(dir: string, settings: { epochs: number; batch: number; lr: number; seed: number }): Promise<{ losses: number[]; AP50: number[] }> {
  const metrics = await trainDetector({
    modelPath: join(root, "models", "tiny_fcos_128.onnx"), adapter: PRESETS["tiny-fcos"]!, dataDir: join(dir, "sample"), outDir: join(dir, "cli-run"),
    epochs: settings.epochs, batch: settings.batch, lr: settings.lr, optimizer: "sgd", loss: "rs", backend: "wasm", seed: settings.seed, overwrite: true,
  });
  return { losses: metrics.slice(1).map((m) => m.loss!), AP50: metrics.map((m) => m.AP50) };
}

describe.skipIf(!chromiumPath)("the browser app in headless Chromium", () => {
  const wasmApp = join(work, "app-wasm");
  const gpuApp = join(work, "app-webgpu");
  let wasmServer: ReturnType<typeof serveApp>;
  let gpuServer: ReturnType<typeof serveApp>;

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    await buildApp(wasmApp, { images: 15, seed: 1 });
    await buildApp(gpuApp, { images: 3, seed: 1 });
    wasmServer = serveApp(wasmApp, 0);
    gpuServer = serveApp(gpuApp, 0);
  });

  afterAll(() => {
    wasmServer?.stop(true);
    gpuServer?.stop(true);
    rmSync(work, { recursive: true, force: true });
  });

  test("WASM: 2 epochs with pause and reload-resume; the download runs in onnxruntime-node as the page evaluated it; the CLI's losses", async () => {
    // The CLI's run on the same data goes on beside the page's (it awaits onnxruntime most of the time).
    const cliDone = cliRun(wasmApp, { epochs: 2, batch: 4, lr: 0.01, seed: 1 });
    const browser = await launch(false);
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const errors = collectErrors(page);
      await page.goto(`http://127.0.0.1:${wasmServer.port}/`);
      await page.waitForSelector("#sample-size:not(:empty)");
      await page.screenshot({ path: join(shots, "start.png"), fullPage: true });
      // Bad datasets: one line in the page, from the page (no annotations.json) or from the CLI's own loader in the worker.
      const badZip = join(work, "bad.zip");
      writeFileSync(badZip, zipSync({ "notes.txt": strToU8("no dataset here") }));
      await page.check("input[name=data][value=zip]");
      await page.setInputFiles("#data-zip", badZip);
      await page.click("#start");
      await page.waitForSelector("#error:not([hidden])");
      expect(await page.textContent("#error")).toBe("bad.zip has no annotations.json (a COCO dataset is annotations.json plus images/)");
      const missingImage = { images: [{ id: 7, file_name: "seven.png", width: 128, height: 128 }], annotations: [], categories: [{ id: 1, name: "square" }] };
      writeFileSync(badZip, zipSync({ "data/annotations.json": strToU8(JSON.stringify(missingImage)) }));
      await page.setInputFiles("#data-zip", badZip);
      await page.click("#start");
      await waitForState(page, (s) => s.phase === "error", "the dataset error", 60_000);
      expect(await page.textContent("#error")).toBe("bad.zip/annotations.json: image 7 file bad.zip/images/seven.png is missing");
      await page.check("input[name=data][value=sample]");
      await page.fill("#epochs", "2");
      await page.fill("#batch", "4");
      await page.fill("#lr", "0.01");
      await page.selectOption("#backend-choice", "wasm");
      await page.click("#start");
      // Pause during the first (slow, compiling) train step: the worker commits a checkpoint after it.
      await waitForState(page, (s) => s.phase === "training" && s.metrics.length === 1, "the epoch-0 evaluation", 150_000);
      await page.click("#pause");
      const paused = await waitForState(page, (s) => s.phase === "paused", "the pause", 60_000);
      expect(paused.backendDetail).toBe("WASM (chosen in the settings)");
      expect(await page.textContent("#backend")).toContain("WASM");
      const pausedAt = paused.step;
      await page.screenshot({ path: join(shots, "mid.png"), fullPage: true });
      // A reload loses the worker; the run comes back from IndexedDB at the paused step.
      await page.reload();
      await page.waitForSelector("#resume:not([hidden])", { timeout: 20_000 });
      expect(pausedAt).toBeGreaterThanOrEqual(1);
      expect(await page.textContent("#resume-text")).toContain(`epoch ${Math.floor(pausedAt / 3) + 1}, step ${pausedAt % 3} of 3`);
      await page.click("#resume-run");
      const restored = await waitForState(page, (s) => s.restoredAtStep !== undefined, "the restored run", 120_000);
      expect(restored.restoredAtStep).toBe(pausedAt);
      const done = await waitForState(page, (s) => s.phase === "done", "the end of training", 180_000);
      await page.screenshot({ path: join(shots, "done.png"), fullPage: true });

      const [m0, m1, m2] = done.metrics;
      expect(done.metrics.map((m) => m.epoch)).toEqual([0, 1, 2]);
      expect(m2!.loss!).toBeLessThan(m1!.loss!);
      expect(m2!.AP50).toBeGreaterThan(m0!.AP50);
      expect(done.losses.length).toBe(6);
      expect(done.error).toBeUndefined();
      expect(await page.locator("#pictures canvas").count()).toBe(3);

      // The downloaded model in onnxruntime-node (CPU EP) finds what the page's last evaluation found.
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-model")]);
      const modelPath = join(work, "downloaded.onnx");
      await download.saveAs(modelPath);
      const [metricsDownload] = await Promise.all([page.waitForEvent("download"), page.click("#download-metrics")]);
      await metricsDownload.saveAs(join(work, "metrics.json"));
      expect(JSON.parse(readFileSync(join(work, "metrics.json"), "utf8")).epochs.map((m: { AP50: number }) => m.AP50)).toEqual(done.metrics.map((m) => m.AP50));
      const { val } = split(loadCoco(join(wasmApp, "sample")), 0.2);
      expect(done.evaluation!.validationImageIds).toEqual(val.map((s) => s.imageId));
      const runner = await DetectorRunner.create(new Uint8Array(readFileSync(modelPath)), PRESETS["tiny-fcos"]!, { executionProvider: "cpu" });
      const found = await runner.detect(val.map((s) => readImage(s.path)));
      const node = val.flatMap((s, i) => found[i]!.map((d) => ({ image: s.imageId, category: d.classIndex, score: d.score, box: d.box })));
      const pageDetections = done.evaluation!.detections;
      expect(node.length).toBe(pageDetections.length);
      expect(node.length).toBeGreaterThan(0);
      let maxBox = 0;
      let maxScore = 0;
      node.forEach((d, i) => {
        const p = pageDetections[i]!;
        expect([d.image, d.category]).toEqual([p.image, p.category]);
        maxScore = Math.max(maxScore, Math.abs(d.score - p.score));
        d.box.forEach((v, k) => (maxBox = Math.max(maxBox, Math.abs(v - p.box[k]!))));
      });
      expect(maxScore).toBeLessThan(1e-4);
      expect(maxBox).toBeLessThan(1e-2);

      // Predict on an image of one's own.
      await page.setInputFiles("#predict-file", val[0]!.path);
      await waitForState(page, (s) => s.predictions === 1, "the prediction", 60_000);
      expect(await page.locator("#prediction canvas").count()).toBe(1);

      // Phone width: one column, nothing wider than the screen.
      await page.setViewportSize({ width: 390, height: 844 });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await page.screenshot({ path: join(shots, "phone.png"), fullPage: true });
      // After a reload the finished run's model is still there: downloads and predict work.
      await page.reload();
      await page.waitForSelector("#download-model:not([disabled])");
      await page.setInputFiles("#predict-file", val[1]!.path);
      await waitForState(page, (s) => s.predictions === 1, "the prediction after a reload", 60_000);
      expect(errors).toEqual([]);

      // Same seed, same EP (onnxruntime-web's WASM): the CLI's run loop gives the same losses, pause and reload included.
      const { losses: cli, AP50 } = await cliDone;
      expect([m1!.loss, m2!.loss]).toEqual(cli);
      // The CLI evaluates on onnxruntime-node's CPU EP, the page on the WASM EP: scores agree to float rounding.
      done.metrics.forEach((m, i) => expect(m.AP50).toBeCloseTo(AP50[i]!, 3));
      console.log(`app WASM: losses ${cli.map((l) => l.toFixed(4)).join(" → ")} (page = CLI), AP50 ${m0!.AP50.toFixed(3)} → ${m2!.AP50.toFixed(3)}, epoch 2 ${m2!.trainSeconds.toFixed(1)} s; onnxruntime-node vs page: ${node.length} detections, max |Δscore| ${maxScore.toExponential(1)}, max |Δbox| ${maxBox.toExponential(1)} px`);
    } finally {
      await browser.close();
    }
  }, 420_000);

  test("WebGPU on SwiftShader: the adapter is named, the loss falls, the losses match the WASM EP's", async () => {
    const cliDone = cliRun(gpuApp, { epochs: 2, batch: 2, lr: 0.01, seed: 1 });
    const browser = await launch(true);
    try {
      const page = await browser.newPage();
      const errors = collectErrors(page);
      await page.goto(`http://127.0.0.1:${gpuServer.port}/`);
      await page.fill("#epochs", "2");
      await page.fill("#batch", "2");
      await page.selectOption("#backend-choice", "webgpu");
      await page.click("#start");
      const timeline: string[] = [];
      const done = await waitForState(page, (s) => s.phase === "done", "the end of WebGPU training", 400_000, timeline);
      console.log(`app WebGPU timeline:\n${timeline.join("\n")}`);
      expect(done.backend).toBe("webgpu");
      expect(done.backendDetail).toMatch(/^WebGPU on .*swiftshader/i);
      expect(done.losses.length).toBe(2);
      expect(done.metrics[2]!.loss!).toBeLessThan(done.metrics[1]!.loss!);
      expect(errors).toEqual([]);
      // float32 bodies on the GPU against float64 bodies on the WASM EP: equal to float32 rounding.
      const { losses: cli } = await cliDone;
      done.losses.forEach((l, i) => expect(Math.abs(l - cli[i]!)).toBeLessThan(1e-4 * Math.abs(cli[i]!)));
      console.log(`app WebGPU (${done.backendDetail}): losses ${done.losses.map((l) => l.toFixed(5)).join(" → ")} vs WASM ${cli.map((l) => l.toFixed(5)).join(" → ")}; epoch 2 ${done.metrics[2]!.trainSeconds.toFixed(1)} s`);
    } finally {
      await browser.close();
    }
  }, 480_000);
});
