// report.html pieces: round ticks on both axes, oLRP marked lower-is-better, the run's settings,
// optional oLRP components (— when missing, null or −1), and scored boxes on the pictures.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCoco } from "../../src/data/coco.ts";
import { writeSyntheticDataset } from "../../src/data/synthetic_dataset.ts";
import type { EpochMetrics } from "../../src/detect/detector_training.ts";
import { lineChart, niceTicks, writeReport } from "../../src/detect/report.ts";

const dir = mkdtempSync(join(tmpdir(), "ranksort-report-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("niceTicks: round steps of 1, 2, 2.5 or 5 × 10^k that cover the data", () => {
  expect(niceTicks(0, 20, 6, true)).toEqual([0, 5, 10, 15, 20]);
  expect(niceTicks(0, 1, 5)).toEqual([0, 0.25, 0.5, 0.75, 1]);
  expect(niceTicks(0, 2.31, 5)).toEqual([0, 1, 2, 3]);
  expect(niceTicks(1, 3, 6, true)).toEqual([1, 2, 3]);
  expect(niceTicks(0, 0.731, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
});

test("lineChart labels both axes with round values", () => {
  const svg = lineChart("t", "epoch", [{ name: "loss", x: [1, 2, 3, 4], y: [1.37, 0.9, 0.71, 0.66] }]);
  const labels = [...svg.matchAll(/font-size="10"[^>]*>([^<]+)</g)].map((m) => m[1]);
  expect(labels).toEqual(["0", "0.5", "1", "1.5", "0", "1", "2", "3", "4"]);
});

test("writeReport: settings, lower-is-better oLRP, optional components with dashes, scored pictures", () => {
  writeSyntheticDataset(join(dir, "data"), { images: 4, size: 64, seed: 2 });
  const dataset = loadCoco(join(dir, "data"));
  const base = { AP: 0.1, AP50: 0.2, AP75: 0.05, APs: 0, APm: 0, APl: 0, oLRP: 0.9, components: { ranking: 0.5 }, trainSeconds: 1, imagesPerSecond: 10 };
  const metrics = [
    { ...base, epoch: 0, loss: null },
    { ...base, epoch: 1, loss: 0.8, oLRPLocalisation: 0.31, oLRPFalsePositive: -1, oLRPFalseNegative: null },
  ] as unknown as EpochMetrics[];
  const s = dataset.samples[3]!;
  const detections = [{ image: s.imageId, category: s.classes[0]!, score: 0.87, box: Array.from(s.boxes.subarray(0, 4)) as [number, number, number, number] }];
  const path = writeReport({ runDir: dir, metrics, dataset, detections, validationImageIds: [s.imageId], settings: { data: "d", seed: 7, val: null, adapter: { name: "tiny-fcos" } } });
  const html = readFileSync(path, "utf8");
  expect(html).toContain("oLRP: lower is better");
  expect(html).toContain("<th>seed</th><td>7</td>");
  expect(html).toContain("<th>val</th><td>—</td>");
  expect(html).toContain("<th>adapter</th><td>tiny-fcos</td>");
  expect(html).toContain("<th>oLRP Localisation↓</th>");
  expect(html).toContain("<td>0.310</td><td>—</td><td>—</td>");
  expect(html.match(/<img src="data:image\/png;base64,/g)).toHaveLength(1);
});
