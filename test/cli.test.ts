// The `ranksort` command as a user runs it: output shape, --check, --out, and clear errors.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";

const root = resolve(import.meta.dir, "..");
const cli = join(root, "bin", "ranksort.mjs");
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });

const caseJson = {
  name: "cli",
  loss: "rank_sort",
  params: { delta_RS: 0.5, eps: 1e-10 },
  logits: [1.5, 2.0, 0.5, 1.0, -0.25, 0.75, 0.25, -2.0],
  targets: [0.0, 0.875, 0.0, 0.5, 0.0, 0.0, 0.75, 0.0],
  // Exact rational values of this hand-checkable case: 226/693, 2/45.
  outputs: { ranking_loss: 226 / 693, sorting_loss: 2 / 45, grad: [128 / 693, 0, 1 / 21, -53 / 495, 0, 65 / 693, -23 / 105, 0] },
};

describe("ranksort loss", () => {
  const dir = mkdtempSync(join(tmpdir(), "ranksort-cli-"));
  const plain = join(dir, "case.json");
  const gz = join(dir, "case.json.gz");
  writeFileSync(plain, JSON.stringify(caseJson));
  writeFileSync(gz, gzipSync(JSON.stringify(caseJson)));

  test("prints the golden output shape, for .json and .json.gz", () => {
    for (const file of [plain, gz]) {
      const r = run("loss", file);
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(Object.keys(out)).toEqual(["ranking_loss", "sorting_loss", "grad"]);
      expect(out.ranking_loss).toBeCloseTo(226 / 693, 9);
      expect(out.grad).toHaveLength(8);
    }
  });

  test("--check passes within tolerance and fails outside it", () => {
    expect(run("loss", plain, "--check").status).toBe(0);
    const wrong = join(dir, "wrong.json");
    writeFileSync(wrong, JSON.stringify({ ...caseJson, outputs: { ...caseJson.outputs, sorting_loss: 0.1 } }));
    const r = run("loss", wrong, "--check");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("OUTSIDE tolerance");
  });

  test("--out writes the file", () => {
    const out = join(dir, "sub", "out.json");
    expect(run("loss", plain, "--out", out).status).toBe(0);
    expect(existsSync(out)).toBe(true);
    expect(JSON.parse(readFileSync(out, "utf8")).sorting_loss).toBeCloseTo(2 / 45, 9);
  });

  test("bad input gives a clear message and exit code 2", () => {
    const cases: [string[], RegExp][] = [
      [["loss", join(dir, "missing.json")], /cannot read case file .*missing\.json/],
      [["loss", plain, "--backend", "tpu"], /unknown backend "tpu"; available: cpu/],
      [["loss"], /expected one case file/],
      [["bogus"], /unknown command "bogus"/],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const badJson = join(dir, "bad.json");
    writeFileSync(badJson, "{ not json");
    expect(run("loss", badJson).stderr).toMatch(/bad\.json: not valid JSON/);
    const nan = join(dir, "nan.json");
    writeFileSync(nan, JSON.stringify({ ...caseJson, targets: caseJson.targets.slice(1) }));
    expect(run("loss", nan).stderr).toMatch(/logits has 8 elements but targets has 7/);
  });

  test("demo runs on a small case and reports agreement", () => {
    const r = run("demo-loss", "--anchors", "200", "--classes", "10", "--positives", "20");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("RankSort (ranking)");
    const ratios = [...r.stdout.matchAll(/^(RankSort \(ranking\)|AP|aLRP)\s.*\s([\d.]+)$/gm)].map((m) => Number(m[2]));
    expect(ratios).toHaveLength(3);
    for (const x of ratios) expect(x).toBeLessThanOrEqual(1);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});

describe("ranksort vjp", () => {
  test("gradients of Σ output·cotangent by hand-checkable example; clear errors", async () => {
    const { GraphBuilder } = await import("../src/onnx/builder.ts");
    const { writeModel } = await import("../src/onnx/model_io.ts");
    const dir = mkdtempSync(join(tmpdir(), "ranksort-vjp-"));
    try {
      const g = new GraphBuilder("lin");
      const x = g.input("x", "float32", [1, 2]);
      const w = g.initializer("w", "float32", [1, 2, 3, 4, 5, 6], [2, 3]);
      const b = g.initializer("b", "float32", [0.1, 0.2, 0.3], [3]);
      const y = g.op1("Add", [g.op1("MatMul", [x, w]), b]);
      g.output(g.op1("Mul", [y, y]), "y", "float32", [1, 3]);
      const model = join(dir, "lin.onnx");
      writeModel(model, g.model());
      writeFileSync(join(dir, "in.json"), JSON.stringify({ x: { dims: [1, 2], data: [0.5, -1] } }));
      writeFileSync(join(dir, "ct.json"), JSON.stringify({ y: { dims: [1, 3], data: [1, 0, 2] } }));
      const out = join(dir, "grads.json");
      const r = run("vjp", model, "--inputs", join(dir, "in.json"), "--cotangents", join(dir, "ct.json"), "--out", out);
      expect(r.status).toBe(0);
      const grads = JSON.parse(readFileSync(out, "utf8"));
      // y_lin = x·W + b = [-3.4, -3.8, -4.2]; d(y²·ct)/dy_lin = 2·y_lin·ct = [-6.8, 0, -16.8].
      const close = (a: number[], e: number[]) => a.forEach((v, i) => expect(v).toBeCloseTo(e[i]!, 4));
      close(grads.b.data, [-6.8, 0, -16.8]);
      close(grads.w.data, [-3.4, 0, -8.4, 6.8, 0, 16.8]);
      close(grads.x.data, [-57.2, -128]);
      writeFileSync(join(dir, "bad.json"), JSON.stringify({ z: { dims: [1], data: [1] } }));
      const bad = run("vjp", model, "--inputs", join(dir, "in.json"), "--cotangents", join(dir, "bad.json"));
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/"z" is not an output of the model \(outputs: y\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
