// Running `ranksort train` as its own process (Bun directly, so signals reach the trainer) on a
// tiny synthetic dataset: the fault-injection and error tests share this.
import { spawn, spawnSync } from "node:child_process";
import { join, resolve } from "node:path";

export const root = resolve(import.meta.dir, "..", "..");
export const bun = join(root, "node_modules", ".bin", "bun");
export const cli = join(root, "bin", "ranksort.mjs");
export const tinyModel = join(root, "models", "tiny_fcos_128.onnx");

export function ranksort(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(bun, [cli, ...args], { encoding: "utf8", cwd: options.cwd, env: { ...process.env, ...options.env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Start `ranksort` without waiting: the child, and a promise of its exit code/signal and stderr. */
export function startRanksort(args: string[]) {
  const child = spawn(bun, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  child.stdout.on("data", () => {});
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((res) => child.on("close", (code, signal) => res({ code, signal, stderr })));
  return { child, done };
}

/** The `ranksort: …` lines of stderr (onnxruntime's own log lines and progress bars aside). */
export function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.startsWith("ranksort"));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
