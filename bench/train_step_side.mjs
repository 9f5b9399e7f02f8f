// The onnxruntime side of `npm run bench:train`, in its own process (its own peak memory), on the
// runtime that runs it: Node (the `ranksort` command's runtime) imports the compiled package
// (dist/, built by the bench), Bun and Deno the TypeScript sources. Prints one JSON line.
//
//   node bench/train_step_side.mjs MODEL.onnx SIZE BATCH THREADS STEPS '["trained", "parameter", "names"]' [STEPS_PER_RUN] [PRESET]
//
// Steps run as the `ranksort train` loop runs them: `trainSteps` over the trainer's steps per session
// run (4 on the CPU EP unless STEPS_PER_RUN says otherwise); a sample is one run's time ÷ its steps.
// With PRESET the model is a full export: bound by that preset and cut at its head tensors, one graph
// copy per image for a one-image-per-run input, every weight trained — what `ranksort train` builds
// (the names are then PyTorch's, not the export's: its BatchNorm is folded into the convolutions).

import process from "node:process";

const [onnx, size, batch, threads, steps] = [process.argv[2], ...process.argv.slice(3, 7).map(Number)];
const trained = new Set(JSON.parse(process.argv[7]));
const stepsPerRun = process.argv[8] ? Number(process.argv[8]) : undefined;
const preset = process.argv[9] || undefined;
const fromSource = Boolean(globalThis.Bun || globalThis.Deno);
const lib = (path) => import(new URL(fromSource ? `../src/${path}.ts` : `../dist/src/${path}.js`, import.meta.url).href);
const { readModel } = await lib("onnx/model_io");
const { Trainer } = await lib("train/trainer");
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

const t0 = performance.now();
// The model is read and bound inside this function, as `ranksort train` does it: the script keeps no
// reference to it, so its bytes go once the trainer has taken what it needs (the first step).
async function setUp() {
  let model = readModel(onnx);
  let feeds;
  let inferenceModel;
  if (preset) {
    const { bindDetector } = await lib("detect/detector_binding");
    const { PRESETS } = await lib("detect/presets");
    const { replicateGraph } = await lib("onnx/replicate");
    const bound = await bindDetector(model, PRESETS[preset], onnx);
    const copies = bound.input.layout === "CHW" ? batch : 1;
    const replicated = replicateGraph(bound.heads, copies);
    [model, inferenceModel] = [replicated.model, bound.model];
    const image = (i, n) => Float32Array.from({ length: n }, (_, j) => 0.5 + 0.4 * Math.sin((i * n + j) * 0.37));
    feeds = Object.fromEntries(Array.from({ length: copies }, (_, i) => {
      const dims = bound.input.layout === "CHW" ? [3, size, size] : [batch, 3, size, size];
      return [replicated.nameIn(i, bound.input.name), { type: "float32", data: image(i, dims.reduce((a, b) => a * b, 1)), dims }];
    }));
  } else {
    const x = Float32Array.from({ length: batch * 3 * size * size }, (_, i) => Math.sin(i * 0.37));
    feeds = { images: { type: "float32", data: x, dims: [batch, 3, size, size] } };
  }
  const outNames = model.graph.output.map((o) => o.name);
  const trainer = await Trainer.create(
    {
      model,
      ...(preset ? { inferenceModel, untieExportTies: false } : { frozen: (name) => !trained.has(name) }),
      optimizer: { kind: "sgd" },
      // Same loss as the torch side: Σ over outputs of mean(out²).
      loss: (t, outs) => outNames.map((n) => t.e.op1("ReduceMean", [t.mul(outs[n], outs[n])], { keepdims: 0 }, { dtype: "float32" })).reduce((a, b) => t.add(a, b)),
    },
    { threads, ...(stepsPerRun ? { stepsPerRun } : {}) },
  );
  return { trainer, feeds };
}
const { trainer, feeds } = await setUp();
// Time to the first step: graph build, session creation and one step.
await trainer.trainStep(feeds, 1e-4);
const firstStep = performance.now() - t0;
const k = trainer.stepsPerRun;
const run = Array.from({ length: k }, () => feeds);
const lrs = run.map(() => 1e-4);
await trainer.trainSteps(run, lrs);
const times = [];
for (let i = 0; i < steps; i++) {
  const s = performance.now();
  await trainer.trainSteps(run, lrs);
  times.push((performance.now() - s) / k);
}
// maxRSS: the process's true peak (KiB), like PyTorch's ru_maxrss.
console.log(JSON.stringify({ steps_per_run: k, step_ms: median(times), min_ms: Math.min(...times), first_step_ms: firstStep, peak_rss_mb: process.resourceUsage().maxRSS / 1024 }));
