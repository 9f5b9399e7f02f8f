// The naive algorithm: a deliberately plain O(P·(P+N)) transcription of the three losses' semantics
// in float64, following REFERENCE.md step by step. The tests use it as an independent oracle for the
// fast kernels; the demo and the benchmark use it as the baseline.

export interface OracleRankSort {
  rankingLoss: number;
  sortingLoss: number;
  gradRanking: Float64Array;
  gradSorting: Float64Array;
  /** rank⁺_i and rank_i of each positive, keyed by flattened index. */
  positiveRanks: Map<number, { rankPos: number; rank: number }>;
}

function step(x: number, delta: number, tie: number): number {
  if (delta > 0) return Math.min(1, Math.max(0, x / (2 * delta) + 0.5));
  return x > 0 ? 1 : x < 0 ? 0 : tie;
}

function split(logits: ArrayLike<number>, targets: ArrayLike<number>, isPositive: (t: number) => boolean, delta: number) {
  const pos: number[] = [];
  for (let i = 0; i < logits.length; i++) if (isPositive(targets[i]!)) pos.push(i);
  let min = Infinity;
  for (const i of pos) min = Math.min(min, logits[i]!);
  const threshold = Math.fround(min - Math.fround(delta));
  const neg: number[] = [];
  for (let i = 0; i < logits.length; i++) if (targets[i] === 0 && logits[i]! >= threshold) neg.push(i);
  return { pos, neg };
}

export function oracleRankSort(logits: ArrayLike<number>, targets: ArrayLike<number>, delta = 0.5, eps = 1e-10): OracleRankSort {
  const n = logits.length;
  const gradRanking = new Float64Array(n);
  const gradSorting = new Float64Array(n);
  const positiveRanks = new Map<number, { rankPos: number; rank: number }>();
  const { pos, neg } = split(logits, targets, (t) => t > 0, delta);
  const P = pos.length;
  if (P === 0) return { rankingLoss: 0, sortingLoss: 0, gradRanking, gradSorting, positiveRanks };
  let re = 0;
  let se = 0;
  for (const i of pos) {
    const si = logits[i]!;
    const ti = targets[i]!;
    let rankPos = 0, fp = 0, cur = 0, tgtRank = 0, tgtNum = 0, denom = 0;
    for (const j of pos) {
      const h = step(logits[j]! - si, delta, 1);
      rankPos += h;
      cur += h * (1 - targets[j]!);
      if (targets[j]! >= ti) {
        tgtRank += h;
        tgtNum += h * (1 - targets[j]!);
      } else denom += h;
    }
    for (const k of neg) fp += step(logits[k]! - si, delta, 1);
    positiveRanks.set(i, { rankPos, rank: rankPos + fp });
    const rankErr = fp / (rankPos + fp);
    const sortErr = cur / rankPos - tgtNum / tgtRank;
    re += rankErr;
    se += sortErr;
    if (fp > eps) {
      gradRanking[i]! -= rankErr / P;
      for (const k of neg) gradRanking[k]! += (step(logits[k]! - si, delta, 1) * rankErr) / fp / P;
    }
    if (denom > eps) {
      gradSorting[i]! -= sortErr / P;
      for (const j of pos) {
        if (targets[j]! < ti) gradSorting[j]! += (step(logits[j]! - si, delta, 1) * sortErr) / denom / P;
      }
    }
  }
  return { rankingLoss: re / P, sortingLoss: se / P, gradRanking, gradSorting, positiveRanks };
}

export function oracleAP(logits: ArrayLike<number>, targets: ArrayLike<number>, delta = 1) {
  const n = logits.length;
  const grad = new Float64Array(n);
  const { pos, neg } = split(logits, targets, (t) => t === 1, delta);
  const P = pos.length;
  if (P === 0) return { loss: 0, grad };
  const ordered = [...pos].sort((a, b) => logits[a]! - logits[b]! || a - b);
  let maxPrec = 0;
  let precSum = 0;
  for (const i of ordered) {
    const si = logits[i]!;
    let rankPos = 1, fp = 0;
    for (const j of pos) if (j !== i) rankPos += step(logits[j]! - si, delta, 0.5);
    for (const k of neg) fp += step(logits[k]! - si, delta, 0.5);
    const rank = rankPos + fp;
    const prec = rankPos / rank;
    const scale = maxPrec <= prec ? 1 : (1 - maxPrec) / (1 - prec);
    if (maxPrec <= prec) maxPrec = prec;
    for (const k of neg) grad[k]! += (step(logits[k]! - si, delta, 0.5) / rank) * scale / P;
    grad[i] = -(1 - maxPrec) / P;
    precSum += maxPrec;
  }
  return { loss: 1 - precSum / P, grad };
}

export function oracleALRP(logits: ArrayLike<number>, targets: ArrayLike<number>, reg: ArrayLike<number>, delta = 1, eps = 1e-5) {
  const n = logits.length;
  const grad = new Float64Array(n);
  const { pos, neg } = split(logits, targets, (t) => t === 1, delta);
  const P = pos.length;
  const rank = new Float64Array(P);
  if (P === 0) return { loss: 0, grad, rank };
  let precSum = 0;
  pos.forEach((i, a) => {
    const si = logits[i]!;
    let rankPos = 1, fp = 0, regSum = 0;
    pos.forEach((j, b) => {
      if (j === i) return;
      const h = step(logits[j]! - si, delta, 0.5);
      rankPos += h;
      regSum += h * reg[b]!;
    });
    for (const k of neg) fp += step(logits[k]! - si, delta, 0.5);
    rank[a] = rankPos + fp;
    precSum += rankPos / rank[a]!;
    if (fp > eps) {
      const g = -(regSum + fp) / rank[a]!;
      grad[i] = g / P;
      for (const k of neg) grad[k]! += (step(logits[k]! - si, delta, 0.5) * -g) / fp / P;
    }
  });
  return { loss: 1 - precSum / P, grad, rank };
}
