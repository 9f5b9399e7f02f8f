// `ranksort demo`: the losses on a bundled detection-shaped case, with timings against the naive
// pairwise algorithm (the official loop's cost structure, O(P·(P+N))).

import { parseArgs } from "node:util";
import { alrpLoss, apLoss, rankSortLoss } from "../../../kernels/cpu/index.ts";
import { detectionCase, type Regime } from "../../cases/synthetic.ts";
import { oracleALRP, oracleAP, oracleRankSort } from "../../reference/pairwise.ts";
import { maxToleranceRatio } from "../../cases/tolerance.ts";
import { nowMs, timeMedian } from "../../util/timing.ts";
import { UsageError } from "../usage_error.ts";

export const demoUsage = `ranksort demo-loss [--anchors 8000] [--classes 80] [--positives 500] [--regime early|late] [--seed 1]

Builds a deterministic detection-shaped case (anchors × classes logits, IoU targets on the
positives), computes Rank & Sort, AP and aLRP losses with the CPU kernels, runs the naive pairwise
algorithm on the same data, and prints losses, timings, agreement and the speed-up.`;

function int(name: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got ${v}`);
  return n;
}

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      anchors: { type: "string", default: "8000" },
      classes: { type: "string", default: "80" },
      positives: { type: "string", default: "500" },
      regime: { type: "string", default: "early" },
      seed: { type: "string", default: "1" },
    },
  });
  const regime = values.regime as Regime;
  if (regime !== "early" && regime !== "late") throw new UsageError(`--regime must be early or late, got ${values.regime}`);
  const numel = int("anchors", values.anchors, 1) * int("classes", values.classes, 1);
  const positives = int("positives", values.positives, 0);
  if (positives > numel) throw new UsageError(`--positives (${positives}) exceeds anchors × classes (${numel})`);
  const c = detectionCase({ numel, positives, regime, seed: int("seed", values.seed, 0) });

  console.log(`ranksort demo: ${values.anchors} anchors × ${values.classes} classes = ${numel.toLocaleString("en-US")} logits, ` +
    `${positives} positives, ${regime}-training regime (seed ${values.seed})\n`);
  const rows: string[][] = [["loss", "value", "kernel ms", "naive ms", "speed-up", "max |Δ| loss", "max grad err/tol"]];

  const rs = timeMedian(() => rankSortLoss(c.logits, c.targets));
  let t0 = nowMs();
  const rsNaive = oracleRankSort(c.logits, c.targets);
  const rsNaiveMs = nowMs() - t0;
  const rsGradNaive = rsNaive.gradRanking.map((g, i) => g + rsNaive.gradSorting[i]!);
  rows.push(row("RankSort (ranking)", rs.result.rankingLoss, rs.ms, rsNaiveMs,
    Math.max(Math.abs(rs.result.rankingLoss - rsNaive.rankingLoss), Math.abs(rs.result.sortingLoss - rsNaive.sortingLoss)),
    maxToleranceRatio(rs.result.grad, rsGradNaive)));
  rows.push(["RankSort (sorting)", rs.result.sortingLoss.toFixed(6), "", "", "", "", ""]);

  const ap = timeMedian(() => apLoss(c.logits, c.binaryTargets));
  t0 = nowMs();
  const apNaive = oracleAP(c.logits, c.binaryTargets);
  const apNaiveMs = nowMs() - t0;
  rows.push(row("AP", ap.result.loss, ap.ms, apNaiveMs, Math.abs(ap.result.loss - apNaive.loss), maxToleranceRatio(ap.result.grad, apNaive.grad)));

  const alrp = timeMedian(() => alrpLoss(c.logits, c.binaryTargets, c.regressionLosses));
  t0 = nowMs();
  const alrpNaive = oracleALRP(c.logits, c.binaryTargets, c.regressionLosses);
  const alrpNaiveMs = nowMs() - t0;
  rows.push(row("aLRP", alrp.result.loss, alrp.ms, alrpNaiveMs, Math.abs(alrp.result.loss - alrpNaive.loss), maxToleranceRatio(alrp.result.grad, alrpNaive.grad)));

  printTable(rows);
  console.log(`\nRankSort: ${rs.result.numPositives} positives, ${rs.result.numRelevantNegatives.toLocaleString("en-US")} relevant negatives.`);
  console.log("kernel ms: median of 3 runs after 3 warm-up runs; naive: one run of the pairwise O(P·(P+N)) algorithm.");
  console.log("grad err/tol ≤ 1 means every gradient entry is within 1e-7 + 1e-4·|naive| of the naive float64 result.");
  return 0;
}

function row(name: string, value: number, ms: number, naiveMs: number, lossDiff: number, gradRatio: number): string[] {
  return [name, value.toFixed(6), ms.toFixed(1), naiveMs.toFixed(1), `${(naiveMs / ms).toFixed(0)}×`, lossDiff.toExponential(1), gradRatio.toFixed(4)];
}

export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
}
