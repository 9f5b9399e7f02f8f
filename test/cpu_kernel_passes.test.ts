// The CPU kernels' passes over N: comparator-free sorting of the positives, the grid search that
// places each negative, the first bad entry named whichever pass finds it, and long sums over
// millions-scale negatives staying exact.
import { describe, expect, test } from "bun:test";
import { rankSortLoss, apLoss } from "../src/index.ts";
import { detectionCase } from "../src/cases/synthetic.ts";
import { oracleRankSort } from "../src/reference/pairwise.ts";
import { mulberry32 } from "../src/util/random.ts";
import { sortedOrder } from "../kernels/cpu/sort_order.ts";
import { countLessOrEqual, SearchGrid } from "../kernels/cpu/step_window.ts";
import { nextUp } from "../kernels/cpu/negative_segments.ts";
import { maxToleranceRatio } from "./support/golden.ts";

describe("sortedOrder", () => {
  test("orders like a stable comparator sort, ascending and descending, ties by index", () => {
    const rand = mulberry32(3);
    for (let trial = 0; trial < 100; trial++) {
      const n = Math.floor(rand() * 300);
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) v[i] = Math.fround(rand() < 0.3 ? Math.round((rand() - 0.5) * 6) : (rand() - 0.5) * 10);
      if (n > 3) [v[0], v[1], v[2], v[3]] = [-0, 0, -Infinity, Infinity];
      if (trial % 7 === 0 && n > 0) v[n - 1] = 0.1; // not a float32: the comparator fallback
      for (const descending of [false, true]) {
        const sign = descending ? -1 : 1;
        const want = Array.from({ length: n }, (_, i) => i).sort((a, b) => sign * (v[a]! - v[b]! || 0) || a - b);
        expect(Array.from(sortedOrder(v, descending))).toEqual(want);
      }
    }
  });
});

describe("SearchGrid", () => {
  // Sorted arrays that stress the grid: clusters and ties (cells holding many values), a span that
  // overflows, one value, values at and one step beside every value and cell edge.
  const rand = mulberry32(11);
  const cases: Record<string, number[]> = {
    uniform: Array.from({ length: 300 }, () => rand()),
    clustered: Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? rand() * 100 : 50 + rand() * 1e-9)),
    ties: Array.from({ length: 200 }, (_, i) => Math.floor(i / 40)),
    "huge span": [-3.4e38, -1, 0, 1e-30, 2, 3.4e38, 1.7e308],
    "tiny span": [1, nextUp(1), nextUp(nextUp(1)), nextUp(nextUp(nextUp(1)))],
    single: [0.25],
    "two equal": [-2, -2],
  };
  for (const [name, values] of Object.entries(cases)) {
    test(`${name}: counts equal bisection for every query`, () => {
      const sorted = Float64Array.from(values).sort();
      const queries = [-Infinity, Infinity, -1e308, 1e308, 0, -0];
      for (const v of sorted) queries.push(v, nextUp(v), -nextUp(-v), v / 2 + sorted[0]! / 2);
      for (let i = 0; i < 200; i++) queries.push(sorted[0]! + (sorted.at(-1)! - sorted[0]!) * (rand() * 1.2 - 0.1));
      for (const cellsPerValue of [1, 4, 8]) {
        const grid = new SearchGrid(sorted, cellsPerValue);
        for (const x of queries) {
          if (Number.isNaN(x)) continue;
          expect(grid.countLessOrEqual(x)).toBe(countLessOrEqual(sorted, x));
        }
      }
    });
  }
});

describe("bad input found by a later pass still names the first bad entry", () => {
  const cases: [number[], number[], RegExp][] = [
    [[1, Infinity, NaN, 0], [0.5, 0, 0, 0], /logits\[1\] = Infinity/],
    [[1, NaN, Infinity, 0], [0.5, 0, 0, 0], /logits\[1\] = NaN/],
    [[1, 0, -Infinity, 2], [0.5, 0, 0, NaN], /logits\[2\] = -Infinity/],
    [[1, 0, 2, Infinity], [0.5, 0, NaN, 0], /targets\[2\] is NaN/],
    [[NaN, 0], [0, 0], /logits\[0\] = NaN/], // no positive: no false-positive pass
    [[Infinity, 1], [0, 0.5], /logits\[0\] = Infinity/],
  ];
  for (const [logits, targets, message] of cases) {
    test(`${logits} / ${targets}`, () => expect(() => rankSortLoss(logits, targets)).toThrow(message));
  }
  test("AP: a bad negative before a bad positive target", () => {
    expect(() => apLoss([1, NaN, 2], [1, 0, 0.5])).toThrow(/logits\[1\] = NaN/);
  });
});

test("160k early-regime logits (long blocked sums) agree with the float64 pairwise oracle", () => {
  const c = detectionCase({ numel: 160_000, positives: 40, regime: "early", seed: 11 });
  const r = rankSortLoss(c.logits, c.targets);
  const o = oracleRankSort(c.logits, c.targets, 0.5);
  expect(Math.abs(r.rankingLoss - o.rankingLoss)).toBeLessThanOrEqual(1e-9);
  expect(Math.abs(r.sortingLoss - o.sortingLoss)).toBeLessThanOrEqual(1e-9);
  expect(maxToleranceRatio(r.gradRanking, o.gradRanking, 1e-12, 1e-6)).toBeLessThanOrEqual(1);
  expect(maxToleranceRatio(r.gradSorting, o.gradSorting, 1e-12, 1e-6)).toBeLessThanOrEqual(1);
});
