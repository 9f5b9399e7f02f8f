// libranksort_cuda.so (kernels/cuda): builds with nvcc (no GPU needed), exports the C ABI, loads
// through bun:ffi, Deno.dlopen and koffi (Node), and reports "no GPU" as BackendUnavailableError
// rather than crashing. Its CPU entry points run the same algorithm as the CUDA kernels and are
// checked here against every golden case; the GPU itself is checked by test/gpu/run.sh.
import { beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { alrpLoss, apLoss, rankSortLoss } from "../src/index.ts";
import { readCase } from "../src/cases/case_file.ts";
import { BackendUnavailableError, getBackend } from "../src/backends/index.ts";
import { type CudaLibrary, cudaLibraryPath, loadCudaLibrary } from "../src/backends/cuda_library.ts";
import { goldenDir, LOSS_TOL, maxToleranceRatio } from "./support/golden.ts";

const root = resolve(import.meta.dir, "..");
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const library = cudaLibraryPath();
const buildDir = dirname(library);

function findNvcc(): string | undefined {
  for (const dir of [...(process.env.PATH ?? "").split(":"), "/usr/local/cuda/bin", "/usr/local/bin"]) {
    if (dir && existsSync(join(dir, "nvcc"))) return join(dir, "nvcc");
  }
  return undefined;
}
const nvcc = findNvcc();
const cmake = spawnSync("cmake", ["--version"]).status === 0;
const canBuild = !!nvcc && cmake;
if (!canBuild) console.log(`cuda library tests skipped: ${nvcc ? "" : "nvcc not found (PATH, /usr/local/cuda/bin, /usr/local/bin)"}${cmake ? "" : " cmake not found"}`);

/** Names declared in the C header: every RANKSORT_API function. */
function abiNames(): string[] {
  const header = readFileSync(join(root, "kernels", "cuda", "ranksort_cuda.h"), "utf8");
  return [...header.matchAll(/RANKSORT_API\s+[\w\s*]+?\b(ranksort_\w+)\s*\(/g)].map((m) => m[1]!);
}

/** An NVIDIA GPU's device node: known before the library loads, so the GPU test can be skipped properly. */
const nvidiaDevice = existsSync("/dev/nvidia0");

describe.skipIf(!canBuild)("libranksort_cuda.so", () => {
  let lib: CudaLibrary;
  let buildSeconds = 0;

  beforeAll(async () => {
    // Incremental: a second run only relinks if a source changed.
    const start = performance.now();
    const r = spawnSync("bash", [join(root, "kernels", "cuda", "build.sh")], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${dirname(nvcc!)}:${process.env.PATH}` },
    });
    buildSeconds = (performance.now() - start) / 1000;
    if (r.status !== 0) throw new Error(`npm run build:cuda failed:\n${r.stdout}\n${r.stderr}`);
    console.log(`build:cuda took ${buildSeconds.toFixed(1)} s`);
    lib = await loadCudaLibrary(library);
  }, 600_000);

  test("exports every C ABI entry point, and RegisterCustomOps exactly when built with ONNX Runtime headers", () => {
    const nm = spawnSync("nm", ["-D", "--defined-only", library], { encoding: "utf8" });
    expect(nm.status).toBe(0);
    const exported = new Set(nm.stdout.split("\n").map((l) => l.trim().split(/\s+/)[2]).filter(Boolean));
    const names = abiNames();
    expect(names.length).toBeGreaterThanOrEqual(16);
    for (const name of names) expect(exported.has(name)).toBe(true);
    const cache = readFileSync(join(buildDir, "CMakeCache.txt"), "utf8");
    const ortDir = /^ORT_INCLUDE_DIR:PATH=(.*)$/m.exec(cache)?.[1] ?? "";
    const withOrt = ortDir !== "" && existsSync(join(ortDir, "onnxruntime_c_api.h"));
    expect(exported.has("RegisterCustomOps")).toBe(withOrt);
    // Only the ABI is visible: no C++ or CUDA runtime internals leak out of the library.
    expect([...exported].filter((s) => !s!.startsWith("ranksort_") && s !== "RegisterCustomOps")).toEqual([]);
  });

  test("holds sm_80 and sm_90 machine code and sm_90 PTX", () => {
    const flags = readFileSync(join(buildDir, "CMakeFiles", "ranksort_cuda.dir", "flags.make"), "utf8");
    expect(flags).toContain("arch=compute_80,code=[sm_80]");
    expect(flags).toContain("arch=compute_90,code=[sm_90]");
    expect(flags).toContain("arch=compute_90,code=[compute_90]");
  });

  test("Bun: loads through bun:ffi; without a GPU the device count is 0 and the backend is unavailable with the reason", async () => {
    expect(lib.host).toBe("bun");
    expect(lib.version()).toMatch(/^ranksort-cuda \d+\.\d+\.\d+ \(built with CUDA runtime \d+\.\d+\)$/);
    const count = lib.deviceCount();
    if (count > 0) {
      console.log(`cuda: ${count} device(s): the GPU is checked against the golden cases below`);
      return;
    }
    expect(count).toBe(0);
    expect(lib.lastError()).toMatch(/CUDA|device|driver/i);
    const err = await getBackend("cuda").catch((e) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err.message).toContain("cuda:");
    expect(err.message).toContain(lib.lastError());
    // The GPU entry points say the same instead of crashing.
    expect(() => lib.ap("host", new Float32Array([1, 0]), new Float32Array([1, 0]), 1)).toThrow(BackendUnavailableError);
  });

  test("a missing library is BackendUnavailableError naming `npm run build:cuda`", async () => {
    const err = await loadCudaLibrary(join(buildDir, "no_such_library.so")).catch((e) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err.message).toContain("npm run build:cuda");
  });

  test("`ranksort loss --backend cuda` prints the reason and exits non-zero when the GPU path is unavailable", () => {
    if (lib.deviceCount() > 0) return;
    const file = join(goldenDir() ?? "", "rs_tiny_3pos_5neg_delta0.5.json");
    if (!existsSync(file)) return;
    const r = spawnSync(bin("bun"), [join(root, "src", "cli", "main.ts"), "loss", file, "--backend", "cuda"], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("cuda:");
    expect(r.stderr).not.toMatch(/^\s+at /m); // a message, not a stack trace
  });

  test("bad inputs are RankSortInputError naming the index, as in the CPU kernels", () => {
    expect(() => lib.ap("cpu", new Float32Array([1, NaN, 2]), new Float32Array([1, 0, 0]), 1)).toThrow("APLoss: logits[1] = NaN is not finite");
    expect(() => lib.rankSort("cpu", new Float32Array([1, 2]), new Float32Array([0.5, NaN]), 0.5, 1e-10)).toThrow("targets[1] is NaN");
    expect(() => lib.ap("cpu", new Float32Array([1, 2]), new Float32Array([1, 0.5]), 1)).toThrow("targets[1] = 0.5; expected 1");
    expect(() => lib.alrp("cpu", new Float32Array([1, 2]), new Float32Array([1, 1]), new Float32Array([0.1]), 1, 1e-5)).toThrow(
      "regression_losses has 1 elements but there are 2 positives",
    );
    expect(() => lib.alrp("cpu", new Float32Array([1, 2]), new Float32Array([1, 0]), new Float32Array([Infinity]), 1, 1e-5)).toThrow(
      "regression_losses[0] = Infinity is not finite",
    );
    const empty = lib.ap("cpu", new Float32Array([1, 2]), new Float32Array([0, -1]), 1);
    expect([empty.loss, empty.numPositives, ...empty.grad]).toEqual([0, 0, 0, 0]);
  });

  const dir = goldenDir();
  const files = dir ? readdirSync(dir).filter((f) => /\.json(\.gz)?$/.test(f) && f !== "MANIFEST.json") : [];
  test.skipIf(!dir)("the library's CPU entry points (the kernels' algorithm, sequential) meet every golden case through bun:ffi", () => {
    const where = "cpu" as const;
    let worstGrad = 0;
    for (const file of files) {
      const c = readCase(join(dir!, file));
      const out = c.outputs as Record<string, any>;
      if (c.loss === "rank_sort") {
        const r = lib.rankSort(where, c.logits, c.targets, c.params.delta_RS ?? 0.5, c.params.eps ?? 1e-10);
        expect(Math.abs(r.rankingLoss - out.ranking_loss)).toBeLessThanOrEqual(LOSS_TOL);
        expect(Math.abs(r.sortingLoss - out.sorting_loss)).toBeLessThanOrEqual(LOSS_TOL);
        worstGrad = Math.max(worstGrad, maxToleranceRatio(r.grad, out.grad));
      } else if (c.loss === "ap") {
        const r = lib.ap(where, c.logits, c.targets, c.params.delta ?? 1);
        expect(Math.abs(r.loss - out.loss)).toBeLessThanOrEqual(LOSS_TOL);
        worstGrad = Math.max(worstGrad, maxToleranceRatio(r.grad, out.grad));
      } else {
        const r = lib.alrp(where, c.logits, c.targets, c.regressionLosses!, c.params.delta ?? 1, c.params.eps ?? 1e-5);
        expect(Math.abs(r.loss - out.loss)).toBeLessThanOrEqual(LOSS_TOL);
        worstGrad = Math.max(worstGrad, maxToleranceRatio(r.grad, out.grad));
        expect(maxToleranceRatio(r.rank, out.rank, 0, 1e-6)).toBeLessThanOrEqual(1);
        const pos = Array.from(c.logits).filter((_, i) => c.targets[i] === 1);
        expect(Array.from(r.order, (p) => pos[p]!)).toEqual([...pos].sort((a, b) => a - b));
      }
    }
    expect(worstGrad).toBeLessThanOrEqual(1);
    console.log(`library CPU entry points: ${files.length} golden cases, worst gradient error ${worstGrad.toFixed(3)} of tolerance`);
  });

  test("the library's CPU entry points agree with the TypeScript kernels on random cases with ties and every δ", () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 24; trial++) {
      const n = 50 + trial * 37;
      const delta = [0, 0.25, 0.5, 1][trial % 4]!;
      const x = Float32Array.from({ length: n }, () => Math.round((rand() * 6 - 3) * 8) / 8); // coarse: many ties
      const iou = Float32Array.from({ length: n }, () => { const u = rand(); return u < 0.1 ? Math.round(rand() * 4) / 4 || 0.25 : u < 0.2 ? -1 : 0; });
      const binary = iou.map((v) => (v > 0 ? 1 : v));
      const rs = lib.rankSort("cpu", x, iou, delta, 1e-10);
      const rsRef = rankSortLoss(x, iou, { delta });
      expect(Math.abs(rs.rankingLoss - rsRef.rankingLoss)).toBeLessThanOrEqual(1e-6);
      expect(Math.abs(rs.sortingLoss - rsRef.sortingLoss)).toBeLessThanOrEqual(1e-6);
      expect(maxToleranceRatio(rs.gradRanking, rsRef.gradRanking)).toBeLessThanOrEqual(1);
      expect(maxToleranceRatio(rs.gradSorting, rsRef.gradSorting)).toBeLessThanOrEqual(1);
      expect(rs.numRelevantNegatives).toBe(rsRef.numRelevantNegatives);
      const ap = lib.ap("cpu", x, binary, delta);
      const apRef = apLoss(x, binary, { delta });
      expect(Math.abs(ap.loss - apRef.loss)).toBeLessThanOrEqual(1e-6);
      expect(maxToleranceRatio(ap.grad, apRef.grad)).toBeLessThanOrEqual(1);
      const reg = Float32Array.from({ length: apRef.numPositives }, () => rand());
      const al = lib.alrp("cpu", x, binary, reg, delta, 1e-5);
      const alRef = alrpLoss(x, binary, reg, { delta });
      expect(Math.abs(al.loss - alRef.loss)).toBeLessThanOrEqual(1e-6);
      expect(maxToleranceRatio(al.grad, alRef.grad)).toBeLessThanOrEqual(1);
      expect(Array.from(al.order)).toEqual(Array.from(alRef.order));
    }
  });

  test("Deno: loads through Deno.dlopen and reports the same", () => {
    const r = spawnSync(bin("deno"), ["run", "--allow-ffi", "--allow-read", "--allow-env", "--allow-sys", join(root, "test", "support", "cuda_ffi_check.ts")], {
      encoding: "utf8",
      cwd: root,
      env: { ...process.env, RANKSORT_CUDA_LIBRARY: library },
    });
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(report.host).toBe("deno");
    expect(report.version).toBe(lib.version());
    expect(report.deviceCount).toBe(lib.deviceCount());
    const bunSide = lib.alrp("cpu", new Float32Array([2, 1.5, -0.3, 0.1, 0.4]), new Float32Array([1, 0, 1, -1, 0]), new Float32Array([0.3, 0.1]), 1, 1e-5);
    expect(report.cpuCase.loss).toBe(bunSide.loss);
    expect(report.cpuCase.grad).toEqual(Array.from(bunSide.grad));
    expect(report.cpuCase.order).toEqual([1, 0]);
    if (report.deviceCount === 0) {
      expect(report.backendError.name).toBe("BackendUnavailableError");
      expect(report.backendError.message).toContain("loaded under deno");
    }
  });

  test("Node: koffi when installed, otherwise BackendUnavailableError saying to install it or use Bun/Deno", () => {
    let koffi: string | undefined;
    try {
      koffi = createRequire(join(root, "package.json")).resolve("koffi");
    } catch {
      console.log("Node: koffi is not installed (npm install koffi@3.3.4 enables the CUDA backend under Node); checking the message instead");
    }
    // The bundle sits under node_modules so that Node resolves koffi from the repository.
    const outDir = join(root, "node_modules", ".cache", "ranksort-cuda-check");
    mkdirSync(outDir, { recursive: true });
    const bundle = join(outDir, "cuda_ffi_check.mjs");
    try {
      const b = spawnSync(bin("bun"), ["build", join(root, "test", "support", "cuda_ffi_check.ts"), "--target", "node", "--external", "koffi",
        "--external", "onnxruntime-node", "--external", "onnxruntime-web", "--outfile", bundle], { encoding: "utf8" });
      expect(b.status).toBe(0);
      const r = spawnSync("node", [bundle], { encoding: "utf8", cwd: root, env: { ...process.env, RANKSORT_CUDA_LIBRARY: library } });
      expect(r.status).toBe(0);
      const report = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
      if (koffi) {
        expect(report.host).toBe("node");
        expect(report.deviceCount).toBe(lib.deviceCount());
        expect(report.cpuCase.order).toEqual([1, 0]);
      } else {
        expect(report.loadError.name).toBe("BackendUnavailableError");
        expect(report.loadError.message).toContain("npm install koffi@3.3.4");
        expect(report.loadError.message).toContain("Bun or Deno");
      }
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });

  if (!nvidiaDevice) console.log("GPU golden check skipped: no NVIDIA device (/dev/nvidia0) here; test/gpu/run.sh runs it on a GPU machine");
  test.skipIf(!nvidiaDevice || !dir)("the GPU meets every golden case (only where a GPU is present)", async () => {
    expect(lib.deviceCount()).toBeGreaterThan(0);
    for (const file of files) {
      const c = readCase(join(dir!, file));
      const out = c.outputs as Record<string, any>;
      const r =
        c.loss === "rank_sort"
          ? lib.rankSort("host", c.logits, c.targets, c.params.delta_RS ?? 0.5, c.params.eps ?? 1e-10)
          : c.loss === "ap"
            ? lib.ap("host", c.logits, c.targets, c.params.delta ?? 1)
            : lib.alrp("host", c.logits, c.targets, c.regressionLosses!, c.params.delta ?? 1, c.params.eps ?? 1e-5);
      const losses = "rankingLoss" in r ? [r.rankingLoss, r.sortingLoss] : [r.loss];
      const expectedLosses = c.loss === "rank_sort" ? [out.ranking_loss, out.sorting_loss] : [out.loss];
      losses.forEach((l, i) => expect(Math.abs(l - expectedLosses[i])).toBeLessThanOrEqual(LOSS_TOL));
      expect(maxToleranceRatio(r.grad, out.grad)).toBeLessThanOrEqual(1);
    }
  });
});

// onnxruntime-node's own CUDA execution provider (not our library): the ops' function bodies run
// on it when its provider binaries were installed (they are fetched at install time, which CI skips).
function ortCudaProvider(): string | undefined {
  const binRoot = join(root, "node_modules", "onnxruntime-node", "bin");
  if (!existsSync(binRoot)) return undefined;
  for (const napi of readdirSync(binRoot)) {
    const lib = join(binRoot, napi, process.platform, process.arch, "libonnxruntime_providers_cuda.so");
    if (existsSync(lib)) return lib;
  }
  return undefined;
}
const ortCuda = ortCudaProvider();
if (!ortCuda) {
  console.log("onnxruntime-node CUDA EP test skipped: no libonnxruntime_providers_cuda.so in node_modules/onnxruntime-node/bin (installed with ONNXRUNTIME_NODE_INSTALL=skip or without network)");
}

test.skipIf(!ortCuda)("onnxruntime-node, CUDA execution provider: a function-body model meets its golden case", async () => {
  const ort = await import("onnxruntime-node");
  expect(ort.listSupportedBackends().some((b: { name: string }) => b.name === "cuda")).toBe(true);
  const { encodeModel } = await import("../src/onnx/model_codec.ts");
  const { standaloneLossModel } = await import("../src/ops/standalone_model.ts");
  const file = join(goldenDir() ?? "", "ap_tiny_delta1.json");
  if (!existsSync(file)) return;
  const c = readCase(file);
  let session;
  try {
    session = await ort.InferenceSession.create(encodeModel(standaloneLossModel("APLoss", { delta: c.params.delta })), { executionProviders: ["cuda"] });
  } catch (e) {
    console.log(`onnxruntime-node CUDA EP test skipped: the provider is installed but could not start here: ${(e as Error).message.split("\n")[0]}`);
    return;
  }
  const out = await session.run({
    logits: new ort.Tensor("float32", c.logits, [c.logits.length]),
    targets: new ort.Tensor("float32", c.targets, [c.targets.length]),
  });
  const expected = c.outputs as Record<string, any>;
  expect(Math.abs(Number((out.loss!.data as Float32Array)[0]) - expected.loss)).toBeLessThanOrEqual(LOSS_TOL);
  expect(maxToleranceRatio(out.grad!.data as Float32Array, expected.grad)).toBeLessThanOrEqual(1);
});
