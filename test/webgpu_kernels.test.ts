// The WGSL kernels against the CPU kernels: random cases (ties, ignored entries, δ = 0 … 2), a
// detection-sized case (1.6e6 logits, early and late training) on Deno/lavapipe, a smaller one on
// Bun/SwiftShader, and bad input. The golden cases run in test/runtimes.test.ts and browser.test.ts.
// Skipped, with the reason, where the Vulkan drivers are missing.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const script = join(root, "test", "support", "webgpu_kernel_check.ts");
const lavapipe = ["/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", "/usr/share/vulkan/icd.d/lvp_icd.json"].find((f) => existsSync(f));
const swiftshader = "/usr/lib/chromium/vk_swiftshader_icd.json";
if (!lavapipe) console.log("WGSL kernels on Deno skipped: no Mesa lavapipe (apt-get install mesa-vulkan-drivers libvulkan1)");
if (!existsSync(swiftshader)) console.log("WGSL kernels on Bun skipped: no SwiftShader (apt-get install chromium)");

interface Check {
  rows: { name: string; lossError: number; gradRatio: number; positives: number; relevant: number }[];
  errors: { name: string; message: string }[];
}

function runCheck(command: string[], env: Record<string, string> = {}): Check {
  const xdg = mkdtempSync(join(tmpdir(), "ranksort-xdg-"));
  chmodSync(xdg, 0o700);
  try {
    const r = spawnSync(command[0]!, command.slice(1), { encoding: "utf8", cwd: root, env: { ...process.env, XDG_RUNTIME_DIR: xdg, NO_COLOR: "1", ...env } });
    if (r.status !== 0) throw new Error(`check failed (${r.status}):\n${r.stderr.slice(-3000)}`);
    return JSON.parse(r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1)!);
  } finally {
    rmSync(xdg, { recursive: true, force: true });
  }
}

function expectMatchesCpu(check: Check, largest: number) {
  expect(check.rows.length).toBeGreaterThan(40);
  for (const row of check.rows) {
    expect({ name: row.name, ok: row.lossError <= 1e-6 && row.gradRatio <= 1 }).toEqual({ name: row.name, ok: true });
    expect(row.positives).toBeGreaterThanOrEqual(0); // −1 marks a count that differs from the CPU kernel
    expect(row.relevant).toBeGreaterThanOrEqual(0);
  }
  expect(check.rows.some((r) => r.name.startsWith(`detection ${largest} early`) && r.relevant > 0.9 * largest)).toBe(true);
  const worst = Math.max(...check.rows.map((r) => r.gradRatio));
  console.log(`WGSL vs CPU kernels: ${check.rows.length} cases, worst grad err/tol ${worst.toFixed(4)}, worst loss err ${Math.max(...check.rows.map((r) => r.lossError)).toExponential(2)}`);
}

function expectClearErrors(check: Check) {
  const byName = Object.fromEntries(check.errors.map((e) => [e.name, e.message]));
  expect(byName["nan target"]).toMatch(/RankSortInputError: RankSortLoss: targets\[1\] is NaN/);
  expect(byName["inf logit on a negative"]).toMatch(/logits\[1\] = Infinity is not finite/);
  expect(byName["nan logit on a positive"]).toMatch(/APLoss: logits\[2\] = NaN is not finite/);
  expect(byName["ap target 0.5"]).toMatch(/APLoss: targets\[1\] = 0.5 is not 1/);
  expect(byName["alrp regression count"]).toMatch(/regression_losses has 1 elements but there are 2 positives/);
  expect(byName["alrp regression nan"]).toMatch(/regression_losses\[1\] is NaN|regression_losses\[1\] = NaN is not finite/);
  expect(byName["length mismatch"]).toMatch(/logits has 3 elements but targets has 2/);
  expect(byName["session nan target"]).toMatch(/RuntimeError: node "[^"]+": RankSortLoss: targets\[17\] is NaN/);
}

describe("WGSL kernels", () => {
  test.skipIf(!lavapipe)("Deno on lavapipe: random cases, 1.6e6-logit detection cases, bad input", () => {
    const check = runCheck([join(root, "node_modules", ".bin", "deno"), "run", "-A", script, "--large"]);
    expectMatchesCpu(check, 1_600_000);
    expectClearErrors(check);
  }, 300_000);

  test.skipIf(!existsSync(swiftshader))("Bun on SwiftShader (webgpu package): the same checks at 1.6e5", () => {
    const check = runCheck([join(root, "node_modules", ".bin", "bun"), script], { VK_ICD_FILENAMES: swiftshader });
    expectMatchesCpu(check, 160_000);
    expectClearErrors(check);
  }, 300_000);
});
