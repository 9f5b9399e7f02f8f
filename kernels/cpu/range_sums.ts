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

/**
 * A Fenwick (binary indexed) tree over `size` ranks with four interleaved channels, written out
 * per channel: the sorting sweeps walk it three times per positive, and a loop over a channel
 * count costs about twice these straight-line walks.
 */
export class FenwickSums implements RangeSums {
  private readonly tree: Float64Array;

  constructor(private readonly size: number) {
    this.tree = new Float64Array((size + 1) * 4);
  }

  /** Add (a, b, c, d) to rank r in channels 0–3. */
  add(r: number, a: number, b: number, c: number, d: number): void {
    const tree = this.tree;
    for (let i = r + 1; i <= this.size; i += i & -i) {
      const base = 4 * i;
      tree[base]! += a;
      tree[base + 1]! += b;
      tree[base + 2]! += c;
      tree[base + 3]! += d;
    }
  }

  /** out[offset + c] = sum of channel c over ranks [0, end), for the four channels in one walk. */
  prefixAll(end: number, out: Float64Array, offset: number): void {
    const tree = this.tree;
    let a = 0;
    let b = 0;
    let c = 0;
    let d = 0;
    for (let i = end; i > 0; i -= i & -i) {
      const base = 4 * i;
      a += tree[base]!;
      b += tree[base + 1]!;
      c += tree[base + 2]!;
      d += tree[base + 3]!;
    }
    out[offset] = a;
    out[offset + 1] = b;
    out[offset + 2] = c;
    out[offset + 3] = d;
  }

  private prefix(c: number, end: number): number {
    let acc = 0;
    for (let i = end; i > 0; i -= i & -i) acc += this.tree[4 * i + c]!;
    return acc;
  }

  sum(c: number, lo: number, hi: number): number {
    if (lo >= hi) return 0;
    return this.prefix(c, hi) - this.prefix(c, lo);
  }
}
