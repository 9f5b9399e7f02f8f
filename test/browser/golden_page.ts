// A page that runs every golden case through the loss backends named in its URL (?backends=…) with
// onnxruntime-web in the browser, then publishes the results as window.__ranksort.
import * as ortWasm from "onnxruntime-web";
import * as ortWebGpu from "onnxruntime-web/webgpu";
import { parseCase } from "../../src/cases/golden_case.ts";
import { goldenMatrix } from "../support/golden_matrix.ts";

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
  const rows = await goldenMatrix(cases, backends);
  (window as unknown as { __ranksort: unknown }).__ranksort = { host: "chromium", cases: cases.length, rows };
}

main().catch((e) => {
  (window as unknown as { __ranksort: unknown }).__ranksort = { error: String((e as Error).stack ?? e) };
});
