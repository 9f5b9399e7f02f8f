// Binds the C ABI with koffi under Node (an optional peer dependency of this package, installed by the user; its
// prebuilt binaries come in the npm package, nothing is downloaded at install time).
import type { AbiSymbol, AbiType, BoundSymbols } from "./cuda_abi.ts";
import { BackendUnavailableError } from "./loss_backend.ts";

interface Koffi {
  load(path: string): { func(name: string, result: string, parameters: string[]): (...args: unknown[]) => unknown };
}

const TYPES: Record<AbiType, string> = { ptr: "void *", i32: "int", i64: "int64_t", f64: "double", cstring: "const char *" };

export async function bindWithKoffi(path: string, abi: Readonly<Record<string, AbiSymbol>>): Promise<BoundSymbols> {
  let koffi: Koffi;
  try {
    const specifier = "koffi"; // not a static import: koffi is optional and only Node needs it
    const mod = (await import(specifier)) as { default?: Koffi } & Koffi;
    koffi = mod.default ?? mod;
  } catch (e) {
    throw new BackendUnavailableError(
      `cuda: under Node the CUDA backend needs the koffi package (npm install koffi@3.3.4), or run under Bun or Deno (${(e as Error).message})`,
    );
  }
  const lib = koffi.load(path);
  const bound: BoundSymbols = {};
  for (const [name, s] of Object.entries(abi)) {
    const fn = lib.func(name, TYPES[s.result], s.parameters.map((p) => TYPES[p]));
    bound[name] = s.result === "cstring" ? (...args) => String(fn(...args) ?? "") : (...args) => Number(fn(...args));
  }
  return bound;
}
