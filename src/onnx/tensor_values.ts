// The values of integer initializers and constants (shapes, axes, pads), whichever field holds them.

import type { TensorProto } from "./proto.ts";

/** An int64 or int32 tensor's values as numbers (raw data, int64_data or int32_data). */
export function intValues(t: TensorProto): number[] {
  if (t.rawData.length) {
    const bytes = new Uint8Array(t.rawData);
    if (t.dataType === 7) return Array.from(new BigInt64Array(bytes.buffer, 0, bytes.length / 8), Number);
    if (t.dataType === 6) return Array.from(new Int32Array(bytes.buffer, 0, bytes.length / 4));
  }
  if (t.int64Data.length) return t.int64Data.map(Number);
  return [...t.int32Data];
}
