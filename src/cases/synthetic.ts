// Detection-shaped loss inputs: N anchors × C classes flattened, P positives carrying IoU targets.
// Two regimes from the benchmark spec: "early" (all logits ≈ N(−4.6, 0.1): a freshly initialised
// focal-style head, nearly every negative is relevant) and "late" (negatives N(−6, 1), positives N(0, 1)).

import { mulberry32, normal } from "../util/random.ts";

export type Regime = "early" | "late";

export interface DetectionCase {
  logits: Float32Array;
  targets: Float32Array;
  /** Targets as AP/aLRP read them: 1 at positives, 0 elsewhere (ignored entries kept at −1). */
  binaryTargets: Float32Array;
  /** One regression loss per positive (flattened order), for aLRP. */
  regressionLosses: Float32Array;
}

export interface DetectionCaseSpec {
  numel: number;
  positives: number;
  regime: Regime;
  seed?: number;
  /** Fraction of entries marked ignored (−1). Default 0. */
  ignoredFraction?: number;
}

export function detectionCase(spec: DetectionCaseSpec): DetectionCase {
  const { numel, positives, regime } = spec;
  if (!(positives >= 0 && positives <= numel)) throw new RangeError(`positives must be in [0, ${numel}], got ${positives}`);
  const rand = mulberry32(spec.seed ?? 1);
  const gauss = normal(rand);
  const logits = new Float32Array(numel);
  const targets = new Float32Array(numel);
  const ignored = spec.ignoredFraction ?? 0;
  for (let i = 0; i < numel; i++) {
    logits[i] = regime === "early" ? -4.6 + 0.1 * gauss() : -6 + gauss();
    if (ignored > 0 && rand() < ignored) targets[i] = -1;
  }
  // Distinct positive positions by partial Fisher–Yates over a sparse swap map.
  const swaps = new Map<number, number>();
  for (let k = 0; k < positives; k++) {
    const j = k + Math.floor(rand() * (numel - k));
    const at = swaps.get(j) ?? j;
    swaps.set(j, swaps.get(k) ?? k);
    targets[at] = 0.1 + 0.9 * rand();
    if (regime === "late") logits[at] = gauss();
  }
  const binaryTargets = new Float32Array(numel);
  const regressionLosses = new Float32Array(positives);
  for (let i = 0, p = 0; i < numel; i++) {
    const t = targets[i]!;
    binaryTargets[i] = t > 0 ? 1 : t;
    if (t > 0) regressionLosses[p++] = 1 - t;
  }
  return { logits, targets, binaryTargets, regressionLosses };
}
