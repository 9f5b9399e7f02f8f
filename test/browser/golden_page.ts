// A page that runs every golden case through the loss backends named in its URL (?backends=…) with
// onnxruntime-web in the browser, then publishes the results as window.__ranksort.
import * as ortWasm from "onnxruntime-web";
import * as ortWebGpu from "onnxruntime-web/webgpu";
import { getBackend } from "../../src/backends/index.ts";
import { compareOutputs, evaluateCase } from "../../src/cases/evaluate_case.ts";
import { parseCase } from "../../src/cases/golden_case.ts";
import type { MatrixRow } from "../support/runtime_check.ts";

// The .wasm files are served beside the page under /ort/.
ortWasm.env.wasm.wasmPaths = "/ort/";
ortWebGpu.env.wasm.wasmPaths = "/ort/";

async function fetchCase(file: string) {
  const res = await fetch(`/case/${file}`);
  let body: ReadableStream<Uint8Array> | null = res.body;
  if (file.endsWith(".gz")) body = body!.pipeThrough(new DecompressionStream("gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
  return parseCase(JSON.parse(await new Response(body).text()), file);
}

async function main() {
  const backends = (new URLSearchParams(location.search).get("backends") ?? "cpu").split(",");
  const files: string[] = await (await fetch("/cases")).json();
  const cases = await Promise.all(files.map(async (file) => ({ file, c: await fetchCase(file) })));
  const rows: MatrixRow[] = [];
  for (const name of backends) {
    let backend;
    try {
      backend = await getBackend(name);
    } catch (e) {
      rows.push({ backend: name, loss: "*", cases: 0, maxLossError: NaN, maxGradRatio: NaN, failed: [`unavailable: ${(e as Error).message}`] });
      continue;
    }
    for (const loss of ["rank_sort", "ap", "alrp"]) {
      const row: MatrixRow = { backend: name, loss, cases: 0, maxLossError: 0, maxGradRatio: 0, failed: [] };
      for (const { file, c } of cases.filter((x) => x.c.loss === loss)) {
        try {
          const cmp = compareOutputs(await evaluateCase(c, backend), c.outputs!);
          row.cases++;
          row.maxLossError = Math.max(row.maxLossError, cmp.lossError);
          row.maxGradRatio = Math.max(row.maxGradRatio, cmp.gradToleranceRatio);
          if (!cmp.pass) row.failed.push(`${file}: loss error ${cmp.lossError}, grad ratio ${cmp.gradToleranceRatio}`);
        } catch (e) {
          row.failed.push(`${file}: ${(e as Error).message.split("\n")[0]}`);
        }
      }
      rows.push(row);
    }
  }
  (window as unknown as { __ranksort: unknown }).__ranksort = { host: "chromium", cases: cases.length, rows };
}

main().catch((e) => {
  (window as unknown as { __ranksort: unknown }).__ranksort = { error: String((e as Error).stack ?? e) };
});
