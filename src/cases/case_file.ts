// Reading golden-format case files (`.json`, or gzip-compressed `.json.gz`).

import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { CaseFormatError, type LossCase, parseCase } from "./golden_case.ts";

/** Read a case file; `.gz` files (or any file starting with the gzip magic) are decompressed. */
export function readCase(path: string): LossCase {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new CaseFormatError(`cannot read case file ${path}: ${(e as Error).message}`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new CaseFormatError(`${path}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new CaseFormatError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseCase(json, path);
}
