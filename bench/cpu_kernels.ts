// `npm run bench`: the CPU kernels against the naive pairwise algorithm, a bare read-and-write pass
// (the floor), and — when python3 with torch is installed — the official loop re-expressed in
// PyTorch (bench/torch_reference.py; bench/torch_reference_check.py --official times it against the
// official code itself), all on the same data in the same run. Prints a table; this is not a test.
//
//   bun bench/cpu_kernels.ts [--sizes 1.6e5,1.6e6,1.6e7] [--positives 50,500,2000]
//                            [--regimes early,late] [--loss rank_sort|ap|alrp] [--no-torch]
//                            [--torch-max-seconds 20] [--naive-max-seconds 5]

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { alrpLoss, apLoss, rankSortLoss } from "../src/index.ts";
import { detectionCase, type DetectionCase, type Regime } from "../src/cases/synthetic.ts";
import { oracleALRP, oracleAP, oracleRankSort } from "../src/reference/pairwise.ts";
import { printTable } from "../src/cli/commands/demo.ts";

type Loss = "rank_sort" | "ap" | "alrp";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    sizes: { type: "string", default: "1.6e5,1.6e6,1.6e7" },
    positives: { type: "string", default: "50,500,2000" },
    regimes: { type: "string", default: "early,late" },
    loss: { type: "string", default: "rank_sort" },
    "no-torch": { type: "boolean", default: false },
    "torch-max-seconds": { type: "string", default: "20" },
    "naive-max-seconds": { type: "string", default: "5" },
  },
});
const sizes = values.sizes!.split(",").map(Number);
const positives = values.positives!.split(",").map(Number);
const regimes = values.regimes!.split(",") as Regime[];
const loss = values.loss as Loss;
const here = dirname(fileURLToPath(import.meta.url));

function runKernel(c: DetectionCase): void {
  if (loss === "rank_sort") rankSortLoss(c.logits, c.targets);
  else if (loss === "ap") apLoss(c.logits, c.binaryTargets);
  else alrpLoss(c.logits, c.binaryTargets, c.regressionLosses);
}

/** The floor: read every logit and target once, write one gradient array. */
function barePass(c: DetectionCase): Float32Array {
  const n = c.logits.length;
  const g = new Float32Array(n);
  const x = c.logits;
  const t = c.targets;
  for (let i = 0; i < n; i++) {
    const ti = t[i]!;
    if (ti >= 0) g[i] = x[i]! * 0.5 - ti;
  }
  return g;
}

/**
 * Kernel and bare pass timed in alternation, `pairs` times, after at least `warmup` calls of each
 * and 0.5 s of warm-up (a training loop calls the loss thousands of times: what counts is the JIT's
 * top tier, which a loaded machine takes longer to compile): medians of each, and the median of the
 * per-pair ratios — the two halves of a pair see the same load, so that ratio is the steady figure.
 */
function kernelAndBare(c: DetectionCase, pairs: number, warmup: number): { kernel: number; bare: number; ratio: number; best: number } {
  const warmStart = performance.now();
  for (let i = 0; i < warmup || performance.now() - warmStart < 500; i++) {
    runKernel(c);
    barePass(c);
  }
  const kernel: number[] = [];
  const bare: number[] = [];
  const ratio: number[] = [];
  for (let i = 0; i < pairs; i++) {
    let t0 = performance.now();
    runKernel(c);
    kernel.push(performance.now() - t0);
    t0 = performance.now();
    barePass(c);
    bare.push(performance.now() - t0);
    ratio.push(kernel.at(-1)! / bare.at(-1)!);
  }
  return { kernel: median(kernel), bare: median(bare), ratio: median(ratio), best: Math.min(...kernel) / Math.min(...bare) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/**
 * The naive algorithm costs ∝ P·(P + M). Time it on the first P' positives (the others marked
 * ignored, so the negatives stay the same) and scale, when the full run would exceed the budget.
 */
function naiveMs(c: DetectionCase, P: number, budgetMs: number): { ms: number; extrapolated: boolean } {
  const n = c.logits.length;
  // Rough cost model calibrated on this machine: ~2.5 ns per pair.
  const sub = Math.max(1, Math.min(P, Math.floor(budgetMs / (2.5e-6 * n))));
  const targets = c.targets.slice();
  const binary = c.binaryTargets.slice();
  let seen = 0;
  for (let i = 0; i < n; i++) {
    if (targets[i]! > 0 && ++seen > sub) {
      targets[i] = -1;
      binary[i] = -1;
    }
  }
  const reg = c.regressionLosses.subarray(0, sub);
  const t0 = performance.now();
  if (loss === "rank_sort") oracleRankSort(c.logits, targets);
  else if (loss === "ap") oracleAP(c.logits, binary);
  else oracleALRP(c.logits, binary, reg);
  const ms = performance.now() - t0;
  // Cost ∝ P'·(P' + n): every positive visits every positive and every logit.
  const scale = (P * (P + n)) / (sub * (sub + n));
  return { ms: ms * scale, extrapolated: sub < P };
}

// Debian's python3-torch lives under /usr/bin/python3, which may not be first on PATH.
const python = process.env.RANKSORT_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");

function hasTorch(): boolean {
  if (values["no-torch"]) return false;
  const r = spawnSync(python, ["-c", "import torch"], { stdio: "ignore" });
  return r.status === 0;
}

function torchSeconds(c: DetectionCase, dir: string): { s: number; extrapolated: boolean } | undefined {
  const file = (name: string, a: Float32Array) => {
    const path = join(dir, name);
    writeFileSync(path, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    return path;
  };
  const args = [join(here, "torch_reference.py"), "--loss", loss, "--logits", file("logits.f32", c.logits), "--threads", "1",
    "--targets", file("targets.f32", loss === "rank_sort" ? c.targets : c.binaryTargets), "--max-seconds", values["torch-max-seconds"]!];
  if (loss === "alrp") args.push("--regression-losses", file("reg.f32", c.regressionLosses));
  const r = spawnSync(python, args, { encoding: "utf8", maxBuffer: 1 << 20 });
  if (r.status !== 0) {
    console.error(`torch reference failed: ${r.stderr}`);
    return undefined;
  }
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  return { s: out.seconds, extrapolated: out.extrapolated };
}

const torch = hasTorch();
const dir = mkdtempSync(join(tmpdir(), "ranksort-bench-"));
console.log(`ranksort CPU kernel benchmark — loss ${loss}; ${process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.version}`}; ` +
  `torch reference: ${torch ? "python3 torch, 1 thread" : "not installed (apt-get install python3-torch)"}`);
console.log("kernel/bare/naive: ms (median of runs after warm-up); kernel/bare: median ratio of alternated pairs; best k/b: fastest kernel / fastest bare (the least-loaded pair of runs); " +
  "torch: bench/torch_reference.py (the official loop re-expressed); ~ = extrapolated from a subset of positives\n");
const rows: string[][] = [["N", "P", "regime", "kernel ms", "bare ms", "kernel/bare", "best k/b", "naive ms", "naive/kernel", "torch ms", "torch/kernel"]];
try {
  for (const N of sizes) {
    for (const P of positives) {
      for (const regime of regimes) {
        const c = detectionCase({ numel: N, positives: P, regime, seed: 7 });
        const { kernel, bare, ratio, best } = kernelAndBare(c, N >= 1e7 ? 5 : 31, N >= 1e7 ? 2 : 5);
        const naive = naiveMs(c, P, Number(values["naive-max-seconds"]) * 1000);
        const ref = torch ? torchSeconds(c, dir) : undefined;
        const tilde = (x: boolean) => (x ? "~" : "");
        rows.push([
          N.toExponential(1), String(P), regime, kernel.toFixed(1), bare.toFixed(1), ratio.toFixed(1) + "×", best.toFixed(1) + "×",
          tilde(naive.extrapolated) + naive.ms.toFixed(0), tilde(naive.extrapolated) + (naive.ms / kernel).toFixed(0) + "×",
          ref ? tilde(ref.extrapolated) + (ref.s * 1000).toFixed(0) : "-",
          ref ? tilde(ref.extrapolated) + ((ref.s * 1000) / kernel).toFixed(0) + "×" : "-",
        ]);
        console.log(rows.at(-1)!.join("  "));
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log("");
printTable(rows);
