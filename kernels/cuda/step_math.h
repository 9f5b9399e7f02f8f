// The arithmetic of the Rank & Sort, AP and aLRP losses that the CUDA kernels and the sequential
// C++ port (reference_cpu.cc) share, so that both evaluate every formula the same way. Everything
// here is a pure function of its arguments; the two drivers differ only in how they schedule it.
// Semantics: kernels/cpu (DERIVATION.md); the step H, windows and breakpoints are the same there.
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define RANKSORT_HD __host__ __device__ __forceinline__
#else
#define RANKSORT_HD inline
#endif

namespace ranksort {

/** Which targets are positives: RankSort takes any t > 0 (an IoU), AP and aLRP exactly t == 1. */
enum class PositiveRule : int { GreaterThanZero = 0, ExactlyOne = 1 };

/** What one element is, or why it is rejected (the data error codes of ranksort_cuda.h). */
enum ElementKind : int {
  kIgnored = 0,
  kNegative = 1,
  kPositive = 2,
  kNanTarget = -1,
  kNonFiniteLogit = -2,
  kBadPositiveTarget = -3,
};

/**
 * Classify element (x, t) exactly as kernels/cpu/inputs.ts `classify` does: 0 is a negative, a
 * positive by `rule`, any other value < 0 is ignored, NaN targets are rejected, and logits must be
 * finite wherever the target is not ignored.
 */
RANKSORT_HD int classify_element(float x, float t, PositiveRule rule) {
  if (t == 0.0f) return isfinite(x) ? kNegative : kNonFiniteLogit;
  if (t > 0.0f) {
    const bool bad = rule == PositiveRule::ExactlyOne ? t != 1.0f : isinf(t);
    if (bad) return kBadPositiveTarget;
    return isfinite(x) ? kPositive : kNonFiniteLogit;
  }
  if (t != t) return kNanTarget;
  return kIgnored;
}

/** Whether a target is a positive by `rule` (no validation: for compaction after validation). */
RANKSORT_HD bool is_positive_target(float t, PositiveRule rule) {
  return rule == PositiveRule::ExactlyOne ? t == 1.0f : t > 0.0f;
}

/**
 * The reference's relevant-negative threshold, torch.min(fg_logits) − δ evaluated in float32
 * (torch casts δ to float32 first). A negative with logit ≥ threshold is relevant.
 */
RANKSORT_HD float relevant_threshold(float min_positive_logit, double delta) {
  const float delta32 = static_cast<float>(delta);
  return min_positive_logit - delta32;  // a float32 subtraction (no contraction: nothing to fuse)
}

/** The smoothed step H(x) = clamp(x/(2δ) + 1/2, 0, 1); for δ = 0 a hard step worth `alpha` at 0. */
struct StepShape {
  double delta;
  double alpha;  // H = alpha + beta·x inside the window |x| < δ (δ = 0: the tie value)
  double beta;
};

/** RankSort's hard step is `x >= 0` (tie value 1); AP/aLRP take the δ → 0 limit 1/2. */
RANKSORT_HD StepShape make_step_shape(double delta, double tie_value) {
  StepShape s;
  s.delta = delta;
  s.alpha = delta > 0 ? 0.5 : tie_value;
  s.beta = delta > 0 ? 1.0 / (2.0 * delta) : 0.0;
  return s;
}

RANKSORT_HD double step_value(const StepShape& s, double x) {
  if (s.delta > 0) {
    const double h = s.alpha + s.beta * x;
    return h <= 0 ? 0.0 : h >= 1 ? 1.0 : h;
  }
  return x > 0 ? 1.0 : x < 0 ? 0.0 : s.alpha;
}

// Breakpoints of a negative's window over the sorted (centred) positive logits q. For a negative
// at centred logit v, lo(v) = #{r : low_edge_r ≤ v} positives have H(v − q) = 1, and the window
// [lo(v), hi(v)) with hi(v) = #{r : high_edge_r ≤ v} holds those with 0 < H < 1 (δ = 0: ties).
//   δ > 0: q ≤ v − δ ⇔ q + δ ≤ v;           q < v + δ ⇔ nextafter(q − δ, +∞) ≤ v.
//   δ = 0: q < v ⇔ nextafter(q, +∞) ≤ v;     q ≤ v.
// Both edge lists ascend with q, so each count is one binary search.
RANKSORT_HD double low_edge(const StepShape& s, double q) {
  return s.delta > 0 ? q + s.delta : nextafter(q, static_cast<double>(INFINITY));
}
RANKSORT_HD double high_edge(const StepShape& s, double q) {
  return s.delta > 0 ? nextafter(q - s.delta, static_cast<double>(INFINITY)) : q;
}

/** Number of entries of ascending a[0, n) that are ≤ v. */
RANKSORT_HD int count_at_most(const double* a, int n, double v) {
  int lo = 0;
  int hi = n;
  while (lo < hi) {
    const int mid = lo + ((hi - lo) >> 1);
    if (a[mid] <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * FP_r of the positive of rank r from the negatives' aggregates: `full_above` negatives lie fully
 * above it (H = 1), and `window_count` negatives with logit sum `window_sum` lie in its window,
 * each adding α + β(v − q_r). An empty window adds exactly 0, so FP = 0 stays exact for eps gates.
 */
RANKSORT_HD double false_positives_from_aggregates(const StepShape& s, double full_above, double window_count,
                                                    double window_sum, double q) {
  double fp = full_above;
  if (window_count > 0) fp += s.alpha * window_count + s.beta * (window_sum - q * window_count);
  return fp;
}

/**
 * A negative's gradient Σ_r w_r H(v − q_r) is linear in v on its window: A + B·v, from prefix sums
 * W[r] = Σ_{r' < r} w_r' and WQ[r] = Σ_{r' < r} w_r' q_r' (ranks below lo contribute fully).
 */
RANKSORT_HD double negative_gradient(const StepShape& s, const double* W, const double* WQ, int lo, int hi, double v) {
  if (lo >= hi) return W[lo];
  const double w = W[hi] - W[lo];
  return W[lo] + s.alpha * w - s.beta * (WQ[hi] - WQ[lo]) + s.beta * w * v;
}

/** RankSort's sums over positives j for one positive i (all in float64; self term included). */
struct RankSortPairSums {
  double rank_positive = 0;       // rank⁺_i = Σ_j H_ij
  double sort_numerator = 0;      // Σ_j H_ij (1 − t_j)
  double target_rank = 0;         // Σ_{t_j ≥ t_i} H_ij
  double target_sort_numerator = 0;  // Σ_{t_j ≥ t_i} H_ij (1 − t_j)
  double lower_target = 0;        // D_i = Σ_{t_j < t_i} H_ij, exactly 0 when no such j reaches i

  RANKSORT_HD void add(const StepShape& s, double q_i, double t_i, double q_j, double t_j) {
    const double h = step_value(s, q_j - q_i);
    const double miss = h * (1.0 - t_j);
    rank_positive += h;
    sort_numerator += miss;
    if (t_j >= t_i) {
      target_rank += h;
      target_sort_numerator += miss;
    } else {
      lower_target += h;
    }
  }
  RANKSORT_HD void merge(const RankSortPairSums& o) {
    rank_positive += o.rank_positive;
    sort_numerator += o.sort_numerator;
    target_rank += o.target_rank;
    target_sort_numerator += o.target_sort_numerator;
    lower_target += o.lower_target;
  }
  RANKSORT_HD double sorting_error() const {
    return sort_numerator / rank_positive - target_sort_numerator / target_rank;
  }
};

/** One positive's RankSort update (before the 1/P scaling). */
struct RankSortPositiveUpdate {
  double ranking_error;
  double sorting_error;
  double ranking_grad;     // −RE_i when FP_i > eps
  double sorting_grad;     // −SE_i when D_i > eps (what the others hand back is added later)
  double negative_weight;  // RE_i / FP_i = 1 / rank_i when FP_i > eps
  double sorting_weight;   // SE_i / D_i when D_i > eps
};

RANKSORT_HD RankSortPositiveUpdate rank_sort_update(const RankSortPairSums& p, double false_positives, double eps) {
  RankSortPositiveUpdate u;
  const double rank = p.rank_positive + false_positives;
  u.ranking_error = false_positives / rank;
  u.sorting_error = p.sorting_error();
  const bool rank_gate = false_positives > eps;
  const bool sort_gate = p.lower_target > eps;
  u.ranking_grad = rank_gate ? -u.ranking_error : 0.0;
  u.negative_weight = rank_gate ? 1.0 / rank : 0.0;
  u.sorting_grad = sort_gate ? -u.sorting_error : 0.0;
  u.sorting_weight = sort_gate ? u.sorting_error / p.lower_target : 0.0;
  return u;
}

/** AP/aLRP sums over positives j ≠ i: Σ_{j≠i} H_ij and Σ_{j≠i} H_ij ℓ_j (ℓ: regression losses). */
struct ExcludingSelfSums {
  double others = 0;
  double regression = 0;

  RANKSORT_HD void add(const StepShape& s, double q_i, double q_j, double reg_j) {
    const double h = step_value(s, q_j - q_i);
    others += h;
    regression += h * reg_j;
  }
  RANKSORT_HD void merge(const ExcludingSelfSums& o) {
    others += o.others;
    regression += o.regression;
  }
};

/**
 * AP's weight for the negatives of a positive visited in ascending logit: 1/rank when its precision
 * is a new running maximum, else scaled by (1 − maxprec)/(1 − prec). `running_max_before` is the
 * maximum precision of the positives of lower rank (0 for the first).
 */
RANKSORT_HD double ap_negative_weight(double precision, double running_max_before, double rank) {
  if (running_max_before <= precision) return 1.0 / rank;
  return (1.0 - running_max_before) / (1.0 - precision) / rank;
}

/** Encode a finite float so that unsigned integer order is float order (for atomicMin). */
RANKSORT_HD uint32_t orderable_float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
RANKSORT_HD float float_from_orderable_bits(uint32_t u) {
  const uint32_t bits = (u & 0x80000000u) ? (u & 0x7fffffffu) : ~u;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace ranksort
