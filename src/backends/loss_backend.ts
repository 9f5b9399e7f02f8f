// The interface every loss backend implements (CPU kernels here; WebGPU, CUDA and ONNX Runtime
// paths plug in through the same registry), and the registry itself.

import type { ALRPLossOptions, ALRPLossResult, APLossOptions, APLossResult, RankSortOptions, RankSortResult } from "../../kernels/cpu/index.ts";

export interface LossBackend {
  readonly name: string;
  readonly description: string;
  rankSort(logits: Float32Array, targets: Float32Array, opts: RankSortOptions): Promise<RankSortResult>;
  ap(logits: Float32Array, targets: Float32Array, opts: APLossOptions): Promise<APLossResult>;
  alrp(logits: Float32Array, targets: Float32Array, regressionLosses: Float32Array, opts: ALRPLossOptions): Promise<ALRPLossResult>;
}

/** A loss backend that cannot run on this host (missing package, device or library), with the reason. */
export class BackendUnavailableError extends Error {
  override name = "BackendUnavailableError";
}

const registry = new Map<string, () => Promise<LossBackend>>();

/** Register a backend under `name`; `load` runs on first use (so GPU libraries load lazily). */
export function registerBackend(name: string, load: () => Promise<LossBackend>): void {
  registry.set(name, load);
}

/** Names of the registered loss backends. */
export function backendNames(): string[] {
  return [...registry.keys()];
}

/** A loss backend by name ("cpu", "ort-cpu", "ort-wasm", "ort-webgpu", "webgpu", "cuda", …), loaded on first use. */
export async function getBackend(name: string): Promise<LossBackend> {
  const load = registry.get(name);
  if (!load) {
    throw new BackendUnavailableError(`unknown backend "${name}"; available: ${backendNames().join(", ")}`);
  }
  return load();
}
