// The README's examples (examples/*.ts, shown verbatim in the README) run as a user's project
// runs them: importing "ranksort" from node_modules, in a fresh folder, in the order the README
// gives (fine-tuning writes the run that predict and evaluate read).
import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "ranksort-examples-"));
mkdirSync(join(work, "node_modules"));
symlinkSync(root, join(work, "node_modules", "ranksort"), "dir");
afterAll(() => rmSync(work, { recursive: true, force: true }));
const readme = readFileSync(join(root, "README.md"), "utf8");

const expectations: [string, RegExp][] = [
  ["loss.ts", /^0\.\d+ 0\.\d+ Float32Array/],
  ["export_op.ts", /^$/],
  ["session.ts", /^0\.\d+ Float32Array/],
  ["train_step.ts", /^loss after 20 steps: 0(\.\d+)?(e-\d+)?$/],
  ["fine_tune.ts", /epoch 2: AP50 0\.\d{3} oLRP [01]\.\d{3}/],
  ["predict.ts", /^\d \d\.\d\d \[ ?\d+/],
  ["evaluate.ts", /^AP 0\.\d{3} {2}AP50 0\.\d{3} {2}AP75 0\.\d{3} {2}oLRP [01]\.\d{3}$/],
];

for (const [file, pattern] of expectations) {
  test(`examples/${file} is in the README and runs`, () => {
    const source = readFileSync(join(root, "examples", file), "utf8");
    expect(readme).toContain(source.trim());
    const r = spawnSync(process.execPath, [join(root, "examples", file)], { cwd: work, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${file} exited ${r.status}: ${r.stderr.slice(-2000)}`);
    expect(r.stdout.trim()).toMatch(pattern);
    if (file === "export_op.ts") expect(existsSync(join(work, "rank_sort_loss.onnx"))).toBe(true);
  }, 120_000);
}
