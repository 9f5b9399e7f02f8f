// Binds the C ABI with Deno.dlopen (needs --allow-ffi; the Deno global is typed here, not globally).
import type { AbiSymbol, AbiType, BoundSymbols } from "./cuda_abi.ts";

interface DenoFfi {
  dlopen(path: string, symbols: Record<string, { parameters: string[]; result: string }>): { symbols: Record<string, (...args: unknown[]) => unknown> };
  UnsafePointerView: new (pointer: unknown) => { getCString(): string };
}

const TYPES: Record<AbiType, string> = { ptr: "buffer", i32: "i32", i64: "i64", f64: "f64", cstring: "pointer" };

export function bindWithDeno(path: string, abi: Readonly<Record<string, AbiSymbol>>): BoundSymbols {
  const deno = (globalThis as unknown as { Deno: DenoFfi }).Deno;
  const spec: Record<string, { parameters: string[]; result: string }> = {};
  for (const [name, s] of Object.entries(abi)) spec[name] = { parameters: s.parameters.map((p) => TYPES[p]), result: TYPES[s.result] };
  const lib = deno.dlopen(path, spec);
  const bound: BoundSymbols = {};
  for (const [name, s] of Object.entries(abi)) {
    const fn = lib.symbols[name]!;
    bound[name] =
      s.result === "cstring"
        ? (...args) => {
            const p = fn(...args);
            return p === null ? "" : new deno.UnsafePointerView(p).getCString();
          }
        : (...args) => Number(fn(...args));
  }
  return bound;
}
