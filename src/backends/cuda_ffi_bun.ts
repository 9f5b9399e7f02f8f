// Binds the C ABI with bun:ffi (loaded only under Bun).
import type * as BunFfi from "bun:ffi";
import type { AbiSymbol, AbiType, BoundSymbols } from "./cuda_abi.ts";

export async function bindWithBun(path: string, abi: Readonly<Record<string, AbiSymbol>>): Promise<BoundSymbols> {
  // A computed specifier: bundles built for Node must not hoist a static "bun:ffi" import.
  const specifier = "bun:ffi";
  const { dlopen, FFIType } = (await import(specifier)) as typeof BunFfi;
  const types: Record<AbiType, BunFfi.FFIType> = {
    ptr: FFIType.ptr,
    i32: FFIType.i32,
    i64: FFIType.i64,
    f64: FFIType.f64,
    cstring: FFIType.cstring,
  };
  const spec: Record<string, { args: BunFfi.FFIType[]; returns: BunFfi.FFIType }> = {};
  for (const [name, s] of Object.entries(abi)) spec[name] = { args: s.parameters.map((p) => types[p]), returns: types[s.result] };
  const lib = dlopen(path, spec);
  const bound: BoundSymbols = {};
  for (const [name, s] of Object.entries(abi)) {
    const fn = lib.symbols[name] as unknown as (...args: unknown[]) => unknown;
    // A CString result converts to a JS string; everything else is already a number.
    bound[name] = s.result === "cstring" ? (...args) => String(fn(...args)) : (...args) => fn(...args) as number;
  }
  return bound;
}
