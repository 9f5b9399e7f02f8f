// Range sums over positive ranks, in several channels at once: static prefix sums when every
// positive takes part, a Fenwick tree when positives are inserted during a sweep (the sorting
// terms restrict sums to positives with a larger or smaller target).

export interface RangeSums {
  /** Sum of channel `c` over ranks [lo, hi). */
  sum(c: number, lo: number, hi: number): number;
}

/** prefix[r] = Σ_{r' < r} values[r'] (length P + 1). */
export function prefixSums(values: Float64Array): Float64Array {
  const out = new Float64Array(values.length + 1);
  let acc = 0;
  for (let r = 0; r < values.length; r++) {
    acc += values[r]!;
    out[r + 1] = acc;
  }
  return out;
}

/** Prefix sums of `channels[c][r]` (values indexed by rank). */
export class PrefixSums implements RangeSums {
  private readonly prefix: Float64Array[];

  constructor(channels: Float64Array[]) {
    this.prefix = channels.map(prefixSums);
  }

  sum(c: number, lo: number, hi: number): number {
    if (lo >= hi) return 0;
    const p = this.prefix[c]!;
    return p[hi]! - p[lo]!;
  }
}

/** A Fenwick (binary indexed) tree over `size` ranks with `channels` interleaved values. */
export class FenwickSums implements RangeSums {
  private readonly tree: Float64Array;

  constructor(
    private readonly size: number,
    private readonly channels: number,
  ) {
    this.tree = new Float64Array((size + 1) * channels);
  }

  /** Add `values[c]` to rank r in every channel c. */
  add(r: number, values: ArrayLike<number>): void {
    const k = this.channels;
    const tree = this.tree;
    for (let i = r + 1; i <= this.size; i += i & -i) {
      const base = i * k;
      for (let c = 0; c < k; c++) tree[base + c]! += values[c]!;
    }
  }

  /** out[offset + c] = sum of channel c over ranks [0, end), for every channel in one walk. */
  prefixAll(end: number, out: Float64Array, offset: number): void {
    const k = this.channels;
    const tree = this.tree;
    for (let c = 0; c < k; c++) out[offset + c] = 0;
    for (let i = end; i > 0; i -= i & -i) {
      const base = i * k;
      for (let c = 0; c < k; c++) out[offset + c]! += tree[base + c]!;
    }
  }

  private prefix(c: number, end: number): number {
    const k = this.channels;
    let acc = 0;
    for (let i = end; i > 0; i -= i & -i) acc += this.tree[i * k + c]!;
    return acc;
  }

  sum(c: number, lo: number, hi: number): number {
    if (lo >= hi) return 0;
    return this.prefix(c, hi) - this.prefix(c, lo);
  }
}
