// Serves the built app (a static folder) on 127.0.0.1 and prints its URL. The isolation headers
// let onnxruntime-web's WASM EP use threads; any static host that sends them does the same.
//
//   bun app/serve.ts [--dir build/app] [--port 5417]   (--port 0: any free port)

import { existsSync, statSync } from "node:fs";
import { extname, join, resolve, sep } from "node:path";
import { parseArgs } from "node:util";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".json": "application/json",
  ".wasm": "application/wasm", ".onnx": "application/octet-stream", ".png": "image/png", ".jpg": "image/jpeg", ".map": "application/json",
};

export function serveApp(dir: string, port: number): ReturnType<typeof Bun.serve> {
  const base = resolve(dir);
  return Bun.serve({
    hostname: "127.0.0.1",
    port,
    fetch(req) {
      const path = decodeURIComponent(new URL(req.url).pathname);
      const file = resolve(join(base, path.endsWith("/") ? `${path}index.html` : path));
      if (!(file === base || file.startsWith(base + sep)) || !existsSync(file) || !statSync(file).isFile()) return new Response("not found", { status: 404 });
      return new Response(Bun.file(file), {
        headers: { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp", "cache-control": "no-cache" },
      });
    },
  });
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { dir: { type: "string", default: resolve(import.meta.dir, "..", "build", "app") }, port: { type: "string", default: "5417" } } });
  if (!existsSync(join(values.dir!, "index.html"))) {
    console.error(`ranksort app: ${values.dir} holds no built app; run bun app/build.ts first (npm run app does both)`);
    process.exit(2);
  }
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = serveApp(values.dir!, Number(values.port));
  } catch (e) {
    console.error(`ranksort app: cannot listen on 127.0.0.1:${values.port} (${(e as Error).message}); pass --port 0 for any free port`);
    process.exit(2);
  }
  console.log(`ranksort app: http://127.0.0.1:${server.port}/  (Ctrl-C stops it)`);
}
