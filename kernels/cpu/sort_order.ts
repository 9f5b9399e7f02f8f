// The permutation that sorts a few thousand values, without a comparator callback: the positives'
// logits and targets are float32 values, so each one maps to a 32-bit key that orders like the
// value, and key·2^21 + index is an exact float64 that a native typed-array sort orders by value,
// then index (stable). Comparator sorts cost ~20× more per comparison in the JS engines here.

const INDEX_BITS = 2 ** 21;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** A uint32 that orders like the float32 value v (−0 and +0 equal, as `<` treats them). */
function orderedBits(v: number): number {
  f32[0] = v + 0; // −0 → +0
  const u = u32[0]!;
  return u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
}

/**
 * Indices 0..n−1 ordered by values[i] ascending (descending when asked), ties by index ascending
 * — the order of `sort((a, b) => values[a] − values[b] || a − b)`. Values must not be NaN.
 */
export function sortedOrder(values: Float64Array, descending = false): Int32Array {
  const n = values.length;
  const order = new Int32Array(n);
  let packable = n < INDEX_BITS;
  for (let i = 0; i < n && packable; i++) packable = Math.fround(values[i]!) === values[i]!;
  if (!packable) {
    for (let i = 0; i < n; i++) order[i] = i;
    const sign = descending ? -1 : 1;
    return order.sort((a, b) => sign * (values[a]! - values[b]!) || a - b);
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const bits = orderedBits(values[i]!);
    keys[i] = (descending ? 0xffffffff - bits : bits) * INDEX_BITS + i;
  }
  keys.sort();
  for (let r = 0; r < n; r++) order[r] = keys[r]! % INDEX_BITS;
  return order;
}
