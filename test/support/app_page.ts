// Driving the built browser app (app/) in Debian's headless Chromium through playwright-core:
// launch flags (SwiftShader for WebGPU), console-error collection, and the page's state.
import { existsSync } from "node:fs";
import type { Browser, Page } from "playwright-core";

export const chromiumPath = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));

export interface AppState {
  phase: string;
  backend?: string;
  backendDetail?: string;
  metrics: { epoch: number; loss: number | null; AP: number; AP50: number; oLRP: number; trainSeconds: number }[];
  losses: number[];
  evaluation?: { validationImageIds: number[]; detections: { image: number; category: number; score: number; box: number[] }[] };
  error?: string;
  step: number;
  restoredAtStep?: number;
  predictions: number;
}

export async function launch(webgpu: boolean): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  const gpu = webgpu ? ["--enable-unsafe-webgpu", "--use-angle=swiftshader", "--enable-features=Vulkan"] : ["--disable-gpu"];
  return chromium.launch({
    executablePath: chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu-sandbox", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", ...gpu],
  });
}

/** Console errors and uncaught exceptions of a page, across reloads. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

export const appState = (page: Page) => page.evaluate(() => (window as unknown as { __app: AppState }).__app);

/** Wait until `ok(state)` (polling), failing early with the page's own error message; `timeline` gets each new status line. */
export async function waitForState(page: Page, ok: (s: AppState) => boolean, what: string, timeoutMs: number, timeline?: string[]): Promise<AppState> {
  const t0 = Date.now();
  let last = "";
  let epochs = -1;
  for (;;) {
    const s = await appState(page);
    if (timeline) {
      const status = ((await page.textContent("#status")) ?? "").replace(/ · ETA.*/, "");
      const at = `${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s`;
      if (status !== last) timeline.push(`${at}  ${(last = status)}`);
      if (s.metrics.length !== epochs) timeline.push(`${at}  epoch ${(epochs = s.metrics.length) - 1} evaluated`);
    }
    if (ok(s)) return s;
    if (s.phase === "error") throw new Error(`the page reports an error while waiting for ${what}: ${s.error}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} (phase ${s.phase}, step ${s.step}, status "${await page.textContent("#status")}")`);
    await page.waitForTimeout(250);
  }
}
