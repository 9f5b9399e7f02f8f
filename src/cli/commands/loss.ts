// `ranksort loss <case.json | case.json.gz> [--backend NAME] [--check] [--out FILE]`

import { parseArgs } from "node:util";
import { getBackend } from "../../backends/index.ts";
import { compareOutputs, evaluateCase } from "../../cases/evaluate_case.ts";
import { readCase } from "../../cases/case_file.ts";
import { writeFileAtomic } from "../../util/atomic_write.ts";
import { UsageError } from "../usage_error.ts";

export const lossUsage = `ranksort loss <case.json | case.json.gz> [--backend cpu|webgpu|cuda|ort-cpu|ort-wasm|ort-webgpu] [--check] [--out FILE]

Reads a case in the golden format (fields: loss = rank_sort | ap | alrp, params, logits, targets,
regression_losses for alrp) and prints JSON shaped like the golden "outputs":
  rank_sort: {"ranking_loss", "sorting_loss", "grad"}   ap: {"loss", "grad"}
  alrp: {"loss", "grad", "rank", "order"}
  --backend NAME   which implementation computes it (default cpu): cpu = the TypeScript kernels;
                   ort-cpu / ort-wasm / ort-webgpu = the ops' ONNX function bodies on onnxruntime-node
                   (CPU EP) or onnxruntime-web (WASM EP, WebGPU EP where navigator.gpu exists)
                   webgpu = the WGSL kernels (navigator.gpu in Deno/browsers; the \`webgpu\` package
                   in Node/Bun — without a GPU set VK_ICD_FILENAMES to SwiftShader's ICD)
                   cuda = the CUDA kernels (libranksort_cuda.so: \`npm run build:cuda\`, an NVIDIA GPU)
  --check          compare with the case's own "outputs" within the golden tolerances;
                   prints the errors to stderr and exits 1 when outside them
  --out FILE       write the JSON to FILE (atomically) instead of stdout`;

export async function lossCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      backend: { type: "string", default: "cpu" },
      check: { type: "boolean", default: false },
      out: { type: "string" },
    },
  });
  if (positionals.length !== 1) throw new UsageError(`expected one case file\n\n${lossUsage}`);
  const c = readCase(positionals[0]!);
  const backend = await getBackend(values.backend!);
  const outputs = await evaluateCase(c, backend);
  const text = JSON.stringify(outputs) + "\n";
  if (values.out) writeFileAtomic(values.out, text);
  else process.stdout.write(text);
  if (values.check) {
    if (!c.outputs) throw new UsageError(`--check: ${positionals[0]} has no "outputs" to compare with`);
    const cmp = compareOutputs(outputs, c.outputs);
    process.stderr.write(
      `${cmp.pass ? "within" : "OUTSIDE"} tolerance: max loss error ${cmp.lossError.toExponential(2)} (≤ 1e-6), ` +
        `max gradient error / tolerance ${cmp.gradToleranceRatio.toFixed(4)} (≤ 1)\n`,
    );
    return cmp.pass ? 0 : 1;
  }
  return 0;
}
