// `npm run bench:onnx`: Rank & Sort loss through the three paths of the ONNX layer, side by side:
// the CPU kernel called directly, the op's function body in onnxruntime-node (CPU EP), and the
// runtime in kernels mode (a graph with a RankSortLoss node; the node runs in the CPU kernel).
// Prints time (median) and peak resident memory above the starting point for each.
//
//   bun bench/onnx_layer.ts [--sizes 1.6e5,1.6e6] [--positives 50,500,2000] [--regimes early,late]

import { parseArgs } from "node:util";
import { getBackend } from "../src/backends/index.ts";
import { detectionCase } from "../src/cases/synthetic.ts";
import { printTable } from "../src/cli/commands/demo.ts";
import { rankSortLoss } from "../src/index.ts";
import { float, GraphBuilder } from "../src/onnx/builder.ts";
import { DOMAIN } from "../src/ops/domain.ts";
import { RankSortSession } from "../src/runtime/session.ts";
import type { Regime } from "../src/cases/synthetic.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    sizes: { type: "string", default: "1.6e5,1.6e6" },
    positives: { type: "string", default: "50,500,2000" },
    regimes: { type: "string", default: "early,late" },
  },
});

/** Median time (ms) and peak RSS growth (MB) over `runs` awaited calls, sampling RSS every 2 ms. */
async function measure(fn: () => unknown | Promise<unknown>, runs = 5): Promise<{ ms: number; peakMB: number }> {
  await fn();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 2);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  clearInterval(timer);
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(runs / 2)]!, peakMB: (peak - base) / 2 ** 20 };
}

function lossGraph() {
  const g = new GraphBuilder("loss", { "": 17, [DOMAIN]: 1 });
  const l = g.input("logits", "float32", ["N"]);
  const t = g.input("targets", "float32", ["N"]);
  const [rl, sl, gr, gs] = g.op("RankSortLoss", [l, t], { delta: float(0.5) }, { domain: DOMAIN, outputs: ["rl", "sl", "gr", "gs"] });
  g.output(rl!, "ranking_loss", "float32", []);
  g.output(sl!, "sorting_loss", "float32", []);
  g.output(g.op1("Add", [gr!, gs!]), "grad", "float32", ["N"]);
  return g.model();
}

const ortCpu = await getBackend("ort-cpu");
const kernels = await RankSortSession.create(lossGraph(), { executionProvider: "cpu", mode: "kernels" });
const rows = [["N", "P", "regime", "kernel ms", "body (ORT CPU) ms", "kernels-mode ms", "body/kernel", "kernel MB", "body MB", "kernels-mode MB"]];
for (const N of values.sizes!.split(",").map(Number)) {
  for (const P of values.positives!.split(",").map(Number)) {
    for (const regime of values.regimes!.split(",") as Regime[]) {
      const c = detectionCase({ numel: N, positives: P, regime, seed: 7 });
      const k = await measure(() => rankSortLoss(c.logits, c.targets));
      const b = await measure(() => ortCpu.rankSort(c.logits, c.targets, { delta: 0.5 }), 3);
      const feeds = { logits: { type: "float32" as const, data: c.logits, dims: [N] }, targets: { type: "float32" as const, data: c.targets, dims: [N] } };
      const r = await measure(() => kernels.run(feeds));
      rows.push([N.toExponential(1), String(P), regime, k.ms.toFixed(1), b.ms.toFixed(1), r.ms.toFixed(1), `${(b.ms / k.ms).toFixed(1)}×`,
        k.peakMB.toFixed(0), b.peakMB.toFixed(0), r.peakMB.toFixed(0)]);
      console.log(rows.at(-1)!.join("  "));
    }
  }
}
console.log("\nRankSortLoss, delta 0.5. MB: peak resident memory above the level before the timed runs (sampled every 2 ms).");
printTable(rows);
