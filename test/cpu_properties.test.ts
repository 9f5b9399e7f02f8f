// Property tests of the CPU kernels against the pairwise oracle and against calculus.
import { describe, expect, test } from "bun:test";
import { alrpLoss, apLoss, rankSortLoss, RankSortInputError } from "../src/index.ts";
import { mulberry32, normal } from "../src/util/random.ts";
import { nextUp } from "../kernels/cpu/negative_segments.ts";
import { maxToleranceRatio } from "./support/golden.ts";
import { oracleALRP, oracleAP, oracleRankSort } from "../src/reference/pairwise.ts";

interface RandomCase {
  logits: Float32Array;
  targets: Float32Array;
  binary: Float32Array;
  reg: Float32Array;
}

/** Random case with deliberate ties in logits (coarse grid) and in IoUs, plus ignored entries. */
function randomCase(seed: number, n: number, opts: { grid?: number; iouLevels?: number } = {}): RandomCase {
  const rand = mulberry32(seed);
  const gauss = normal(rand);
  const logits = new Float32Array(n);
  const targets = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = gauss() * 1.5;
    if (opts.grid) s = Math.round(s / opts.grid) * opts.grid;
    logits[i] = s;
    const u = rand();
    if (u < 0.25) {
      let iou = 0.05 + 0.95 * rand();
      if (opts.iouLevels) iou = Math.ceil(iou * opts.iouLevels) / opts.iouLevels;
      targets[i] = iou;
    } else if (u < 0.3) targets[i] = -1;
  }
  if (!targets.some((t) => t > 0)) targets[0] = 0.5;
  const binary = targets.map((t) => (t > 0 ? 1 : t));
  const reg = Float32Array.from(Array.from(targets).filter((t) => t > 0), (t) => 1 - t + 0.1 * rand());
  return { logits, targets, binary, reg };
}

const DELTAS = [0, 0.25, 0.5, 1];
const CASES = Array.from({ length: 24 }, (_, k) => ({
  seed: 1000 + k,
  n: 5 + ((k * 37) % 90),
  grid: k % 3 === 0 ? 0.25 : k % 3 === 1 ? 0.5 : undefined,
  iouLevels: k % 2 === 0 ? 4 : undefined,
}));

describe("RankSort against the pairwise oracle", () => {
  for (const delta of DELTAS) {
    test(`random cases with ties, delta ${delta}`, () => {
      for (const c of CASES) {
        const { logits, targets } = randomCase(c.seed, c.n, c);
        const r = rankSortLoss(logits, targets, { delta });
        const o = oracleRankSort(logits, targets, delta);
        expect(Math.abs(r.rankingLoss - o.rankingLoss)).toBeLessThanOrEqual(1e-9);
        expect(Math.abs(r.sortingLoss - o.sortingLoss)).toBeLessThanOrEqual(1e-9);
        expect(maxToleranceRatio(r.gradRanking, o.gradRanking, 1e-8, 1e-6)).toBeLessThanOrEqual(1);
        expect(maxToleranceRatio(r.gradSorting, o.gradSorting, 1e-8, 1e-6)).toBeLessThanOrEqual(1);
      }
    });
  }
});

describe("AP and aLRP against the pairwise oracle", () => {
  for (const delta of [0.25, 0.5, 1, 2]) {
    test(`random cases with ties, delta ${delta}`, () => {
      for (const c of CASES) {
        const { logits, binary, reg } = randomCase(c.seed, c.n, c);
        const a = apLoss(logits, binary, { delta });
        const oa = oracleAP(logits, binary, delta);
        expect(Math.abs(a.loss - oa.loss)).toBeLessThanOrEqual(1e-9);
        expect(maxToleranceRatio(a.grad, oa.grad, 1e-8, 1e-6)).toBeLessThanOrEqual(1);
        const l = alrpLoss(logits, binary, reg, { delta });
        const ol = oracleALRP(logits, binary, reg, delta);
        expect(Math.abs(l.loss - ol.loss)).toBeLessThanOrEqual(1e-9);
        expect(maxToleranceRatio(l.grad, ol.grad, 1e-8, 1e-6)).toBeLessThanOrEqual(1);
        expect(maxToleranceRatio(l.rank, ol.rank, 1e-6, 1e-6)).toBeLessThanOrEqual(1);
      }
    });
  }
  test("delta 0 without ties matches the hard step; ties use H(0) = 0.5", () => {
    for (const c of CASES) {
      const { logits, binary, reg } = randomCase(c.seed, c.n, { grid: c.grid });
      expect(Math.abs(apLoss(logits, binary, { delta: 0 }).loss - oracleAP(logits, binary, 0).loss)).toBeLessThanOrEqual(1e-9);
      expect(Math.abs(alrpLoss(logits, binary, reg, { delta: 0 }).loss - oracleALRP(logits, binary, reg, 0).loss)).toBeLessThanOrEqual(1e-9);
    }
  });
});

describe("invariants", () => {
  test("the gradient sums to zero (what is taken from a positive is handed to others)", () => {
    for (const c of CASES) {
      const { logits, targets } = randomCase(c.seed, c.n, c);
      for (const delta of DELTAS) {
        const r = rankSortLoss(logits, targets, { delta });
        let sum = 0;
        let abs = 0;
        for (const g of r.grad) {
          sum += g;
          abs += Math.abs(g);
        }
        expect(Math.abs(sum)).toBeLessThanOrEqual(1e-6 * Math.max(1, abs));
      }
    }
  });

  test("permuting the inputs permutes the gradient and keeps the losses", () => {
    for (const c of CASES.slice(0, 8)) {
      const { logits, targets, binary, reg } = randomCase(c.seed, c.n, c);
      const n = logits.length;
      const rand = mulberry32(c.seed * 7);
      const perm = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [perm[i], perm[j]] = [perm[j]!, perm[i]!];
      }
      const pl = Float32Array.from(perm, (i) => logits[i]!);
      const pt = Float32Array.from(perm, (i) => targets[i]!);
      const a = rankSortLoss(logits, targets);
      const b = rankSortLoss(pl, pt);
      expect(b.rankingLoss).toBeCloseTo(a.rankingLoss, 12);
      expect(b.sortingLoss).toBeCloseTo(a.sortingLoss, 12);
      for (let k = 0; k < n; k++) expect(b.grad[k]).toBeCloseTo(a.grad[perm[k]!]!, 7);
      const pb = Float32Array.from(perm, (i) => binary[i]!);
      expect(apLoss(pb.map((_, k) => pl[k]!), pb).loss).toBeCloseTo(apLoss(logits, binary).loss, 12);
      // aLRP's regression losses follow their positives.
      const posOrder = perm.filter((i) => binary[i] === 1);
      const posRank = new Map(Array.from(binary).flatMap((t, i) => (t === 1 ? [i] : [])).map((i, p) => [i, p]));
      const preg = Float32Array.from(posOrder, (i) => reg[posRank.get(i)!]!);
      expect(alrpLoss(pl, pb, preg).loss).toBeCloseTo(alrpLoss(logits, binary, reg).loss, 12);
    }
  });
});

describe("finite differences where the loss is differentiable", () => {
  // The identity update is the paper's error-driven update, not ∂L/∂s, so `grad` cannot match
  // finite differences of the loss by design. What finite differences do pin down, for δ > 0 away
  // from kinks (|s_k − s_i| = δ), is the kernel's forward as a function: a relevant negative k moves
  // the ranking loss by ∂L_R/∂s_k = (1/P)·Σ_i H'(s_k − s_i)·rank⁺_i / rank_i², H' = 1/(2δ) inside the
  // window. And the update on every negative must push the same way as the true derivative.
  test("ranking loss: central differences w.r.t. relevant negatives match the analytic derivative", () => {
    const delta = 0.5;
    const h = 2 ** -10; // exact in float32 for these logits, so s ± h is exactly what is evaluated
    let checked = 0;
    for (const c of CASES) {
      const { logits, targets } = randomCase(c.seed, c.n);
      const r = rankSortLoss(logits, targets, { delta });
      const o = oracleRankSort(logits, targets, delta);
      for (let k = 0; k < logits.length; k++) {
        if (targets[k] !== 0 || nearKink(logits, targets, k, delta, 2 * h)) continue;
        const moved = (x: number) => {
          const l = Float32Array.from(logits);
          l[k] = x;
          return rankSortLoss(l, targets, { delta }).rankingLoss;
        };
        const fd = (moved(logits[k]! + h) - moved(logits[k]! - h)) / (2 * h);
        const analytic = rankingDerivativeAtNegative(logits, targets, k, delta, o.positiveRanks);
        // Central differences carry an O(h²) term from the curvature of FP/(rank⁺ + FP).
        expect(Math.abs(fd - analytic)).toBeLessThanOrEqual(1e-10 + 1e-4 * Math.abs(analytic));
        if (analytic > 0) expect(r.gradRanking[k]!).toBeGreaterThan(0);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });
});

function rankingDerivativeAtNegative(
  logits: Float32Array,
  targets: Float32Array,
  k: number,
  delta: number,
  ranks: Map<number, { rankPos: number; rank: number }>,
): number {
  let sum = 0;
  let P = 0;
  for (let i = 0; i < logits.length; i++) {
    if (!(targets[i]! > 0)) continue;
    P++;
    const { rankPos, rank } = ranks.get(i)!;
    if (Math.abs(logits[k]! - logits[i]!) < delta) sum += (1 / (2 * delta)) * (rankPos / (rank * rank));
  }
  // Negatives below the relevance threshold do not take part at all.
  let min = Infinity;
  for (let i = 0; i < logits.length; i++) if (targets[i]! > 0) min = Math.min(min, logits[i]!);
  return logits[k]! >= Math.fround(min - delta) ? sum / P : 0;
}

function nearKink(logits: Float32Array, targets: Float32Array, k: number, delta: number, margin: number): boolean {
  let min = Infinity;
  for (let i = 0; i < logits.length; i++) if (targets[i]! > 0) min = Math.min(min, logits[i]!);
  if (Math.abs(logits[k]! - (min - delta)) < margin) return true;
  for (let i = 0; i < logits.length; i++) {
    if (!(targets[i]! > 0)) continue;
    const d = Math.abs(logits[k]! - logits[i]!);
    if (Math.abs(d - delta) < margin) return true;
  }
  return false;
}

describe("zero positives and bad input", () => {
  test("no positive gives zero losses and a zero gradient", () => {
    const logits = new Float32Array([0.1, 2, -3]);
    const targets = new Float32Array([0, -1, 0]);
    const r = rankSortLoss(logits, targets);
    expect([r.rankingLoss, r.sortingLoss, r.numPositives]).toEqual([0, 0, 0]);
    expect(Array.from(r.grad)).toEqual([0, 0, 0]);
    expect(apLoss(logits, targets).loss).toBe(0);
    expect(alrpLoss(logits, targets, []).loss).toBe(0);
  });
  const bad: [string, () => unknown, RegExp][] = [
    ["length mismatch", () => rankSortLoss([1, 2], [0]), /logits has 2 elements but targets has 1/],
    ["empty", () => rankSortLoss([], []), /logits is empty/],
    ["NaN logit", () => rankSortLoss([1, NaN], [0.5, 0]), /logits\[1\] = NaN is not finite/],
    ["inf logit on positive", () => apLoss([Infinity, 0], [1, 0]), /logits\[0\] = Infinity/],
    ["NaN target", () => rankSortLoss([1, 2], [0.5, NaN]), /targets\[1\] is NaN/],
    ["infinite target", () => rankSortLoss([1, 2], [Infinity, 0]), /targets\[0\] = Infinity/],
    ["AP target not 0/1", () => apLoss([1, 2], [0.75, 0]), /targets\[0\] = 0\.75; expected 1/],
    ["negative delta", () => rankSortLoss([1], [1], { delta: -0.1 }), /delta must be a finite number >= 0, got -0\.1/],
    ["NaN delta", () => apLoss([1], [1], { delta: NaN }), /delta must be/],
    ["aLRP regression count", () => alrpLoss([1, 2, 3], [1, 0, 1], [0.5]), /regression_losses has 1 elements but there are 2 positives/],
    ["aLRP regression NaN", () => alrpLoss([1, 2], [1, 0], [NaN]), /regression_losses\[0\] = NaN/],
  ];
  for (const [name, run, message] of bad) {
    test(name, () => {
      expect(run).toThrow(RankSortInputError);
      expect(run).toThrow(message);
    });
  }
  test("ignored entries may hold non-finite logits and get zero gradient", () => {
    const r = rankSortLoss([1, NaN, 0.5, Infinity], [0.5, -1, 0, -1]);
    expect(Number.isFinite(r.rankingLoss)).toBe(true);
    expect(r.grad[1]).toBe(0);
    expect(r.grad[3]).toBe(0);
  });
});

test("nextUp returns the adjacent double above, across word carries and signs", () => {
  const xs = [1, -1, 0.5, -0.5, 1e-300, -1e-300, 3.5, -4.9, 2 ** -1074, -(2 ** -1074), 1.7976931348623157e308 / 2, 0];
  for (const x of xs) {
    const y = nextUp(x);
    expect(y).toBeGreaterThan(x);
    const mid = x + (y - x) / 2;
    expect(mid === x || mid === y).toBe(true);
  }
  expect(nextUp(1) - 1).toBe(2 ** -52);
  expect(nextUp(-1) + 1).toBe(2 ** -53);
});
