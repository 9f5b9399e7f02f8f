// Where everything lives in the kernels' GPU buffers: one source of truth for the WGSL constants
// (generated into every shader) and for the host code that sizes, clears and reads the buffers.
//
// WebGPU guarantees only 8 storage buffers per shader stage, so per-positive and per-segment arrays
// are fields of two pooled buffers instead of a buffer each.

/** Words of the `state` buffer (atomic u32): counters, status, indirect dispatch arguments, losses. */
export const STATE = {
  positives: 0, // positives found (may exceed the capacity: then the run is an error)
  relevantNegatives: 1,
  minPositiveKey: 2, // order-preserving u32 key of the smallest positive logit
  badLogit: 3, // smallest index with a non-finite logit on a positive or negative (0xffffffff: none)
  badTarget: 4, // smallest index with a positive target the loss does not accept
  nanTarget: 5, // smallest index with a NaN target
  badRegression: 6, // smallest positive ordinal with a non-finite regression loss (aLRP)
  usedPositives: 7, // min(positives, capacity), 0 after an error: what the later passes work on
  threshold: 8, // f32 bits of the relevant-negative threshold
  positiveDispatch: 9, // 3 words: indirect dispatch over the positives
  segmentDispatch: 12, // 3 words: indirect dispatch over the 2P + 1 segments
  loss0: 15, // f32 bits: ranking loss (RankSort) or loss (AP, aLRP)
  loss1: 16, // f32 bits: sorting loss (RankSort)
  upstream0: 17, // f32 bits of d_ranking_loss / d_loss for the Grad ops
  upstream1: 18, // f32 bits of d_sorting_loss
  words: 20,
} as const;

export const NO_INDEX = 0xffffffff;

/** Fields of the positive pool (u32 words, each `capacity` long unless noted), indexed by rank. */
export const POSITIVE_FIELDS = {
  index: 0, // compacted flattened index of each positive found (unsorted)
  logitBits: 1, // its logit, beside the index (unsorted)
  sortedLogit: 2,
  sortedTarget: 3,
  sortedIndex: 4, // flattened index of the positive of each rank
  sortedOrdinal: 5, // ordinal among positives in flattened order (aLRP's `order`)
  lowEdgePosition: 6, // merged position of the rank's lower window edge (p + δ)
  highEdgePosition: 7, // merged position of its upper window edge (p − δ)
  positiveRank: 8, // rank⁺ (RankSort: self included; AP/aLRP: 1 + others)
  falsePositives: 9,
  sortingError: 10,
  sortingWeight: 11, // SE / D where D > eps
  ownSorting: 12, // −SE where D > eps
  negativeWeight: 13, // per-positive weight of H(s_k − s_i) in the negatives' gradient
  lossTerm: 14, // RE_i (RankSort), max precision (AP), precision (aLRP)
  regression: 15, // aLRP regression loss of each rank
  regressionInput: 16, // aLRP regression losses as given (by ordinal)
  pairTerm: 17, // aLRP: Σ_{j≠i} H_ij ℓ_j
  weightPrefix: 18, // capacity + 1 words: exclusive prefix sums of negativeWeight
} as const;

export function positivePoolWords(capacity: number): number {
  return 19 * capacity + 1 + 2 * capacity; // + the int64 `order` output (lo, hi words)
}
export function orderOffsetWords(capacity: number): number {
  return 19 * capacity + 1;
}

/** Fields of the segment pool (u32 words, each 2·capacity + 1 long unless noted), indexed by segment. */
export const SEGMENT_FIELDS = {
  left: 0, // f32 bits of the segment's lower edge (the edge at merged position s − 1)
  strict: 1, // 1 when that edge's test is `x > e`, 0 for `x >= e`
  lo: 2,
  hi: 3,
  coefA: 4, // g = coefA + coefB · (x − left), already divided by P
  coefB: 5,
  countPrefix: 6, // 2·capacity + 2 words: exclusive prefix sums of the counts
} as const;

export function segmentPoolWords(capacity: number): number {
  const S = 2 * capacity + 1;
  return 6 * S + S + 1;
}

/** Fields of the segment accumulators (atomic u32, each 2·capacity + 1 long). */
export const ACCUMULATOR_FIELDS = { count: 0, sumLow: 1, sumHigh: 2 } as const;
export function accumulatorWords(capacity: number): number {
  return 3 * (2 * capacity + 1);
}

export const WORKGROUP = 256;

/** WGSL `const` declarations for every offset above. */
export function layoutConstants(): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(STATE)) lines.push(`const ST_${snake(k)}: u32 = ${v}u;`);
  for (const [k, v] of Object.entries(POSITIVE_FIELDS)) lines.push(`const PF_${snake(k)}: u32 = ${v}u;`);
  for (const [k, v] of Object.entries(SEGMENT_FIELDS)) lines.push(`const SF_${snake(k)}: u32 = ${v}u;`);
  for (const [k, v] of Object.entries(ACCUMULATOR_FIELDS)) lines.push(`const AF_${snake(k)}: u32 = ${v}u;`);
  lines.push(`const NO_INDEX: u32 = ${NO_INDEX}u;`, `const WG: u32 = ${WORKGROUP}u;`);
  return lines.join("\n");
}

function snake(name: string): string {
  return name.replace(/[A-Z0-9]+/g, (m) => `_${m}`).toUpperCase();
}
