// The CUDA kernels' algorithm run sequentially on the CPU: the ranksort_*_cpu entry points, which
// the ONNX Runtime CPU execution-provider kernels call and which check the shared arithmetic
// (step_math.h) without a GPU. Steps, in the order ranksort_kernels.cu runs them:
//   1. validate every element and collect the positives (flattened order);
//   2. stable-sort the positives by logit and centre on the smallest;
//   3. pairwise sums over positives (O(P²), as the GPU does);
//   4. one pass over the negatives: two binary searches into the window breakpoints, then
//      difference arrays over positive ranks give every FP_r;
//   5. per-positive updates, then a second pass over the negatives for their gradient.
#include <math.h>
#include <string.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "error_messages.h"
#include "ranksort_cuda.h"
#include "step_math.h"

namespace ranksort {
namespace {

struct SortedPositives {
  std::vector<int64_t> flat_index;  // by ordinal (flattened order)
  std::vector<int> order;           // order[r] = ordinal of rank r (ascending logit, stable)
  std::vector<double> q;            // centred logit by rank
  std::vector<double> target;       // target by rank
  double centre = 0;
  float min_logit = 0;
};

int validate_and_sort(int kind, const float* x, const float* t, int64_t n, PositiveRule rule, SortedPositives& sp) {
  for (int64_t i = 0; i < n; i++) {
    const int k = classify_element(x[i], t[i], rule);
    if (k < 0) {
      const int status = k == kNanTarget ? RANKSORT_ERR_NAN_TARGET
                         : k == kNonFiniteLogit ? RANKSORT_ERR_NONFINITE_LOGIT
                                                : RANKSORT_ERR_BAD_POSITIVE_TARGET;
      return fail(status, data_error_message(kind, status, i, status == RANKSORT_ERR_NONFINITE_LOGIT ? x[i] : t[i]));
    }
    if (k == kPositive) sp.flat_index.push_back(i);
  }
  const int P = static_cast<int>(sp.flat_index.size());
  std::vector<float> key(P);
  for (int p = 0; p < P; p++) key[p] = x[sp.flat_index[p]] + 0.0f;  // + 0: −0 and +0 tie, as in the CPU kernel
  sp.order.resize(P);
  std::iota(sp.order.begin(), sp.order.end(), 0);
  std::stable_sort(sp.order.begin(), sp.order.end(), [&](int a, int b) { return key[a] < key[b]; });
  sp.min_logit = P > 0 ? key[sp.order[0]] : 0.0f;
  sp.centre = sp.min_logit;
  sp.q.resize(P);
  sp.target.resize(P);
  for (int r = 0; r < P; r++) {
    sp.q[r] = static_cast<double>(key[sp.order[r]]) - sp.centre;
    sp.target[r] = t[sp.flat_index[sp.order[r]]];
  }
  return RANKSORT_OK;
}

/** The relevant negatives seen through the window breakpoints of the sorted positives. */
class NegativeWindows {
 public:
  NegativeWindows(const SortedPositives& sp, const StepShape& shape, double delta)
      : sp_(sp), shape_(shape), threshold_(relevant_threshold(sp.min_logit, delta)) {
    const int P = static_cast<int>(sp.q.size());
    low_.resize(P);
    high_.resize(P);
    for (int r = 0; r < P; r++) {
      low_[r] = low_edge(shape, sp.q[r]);
      high_[r] = high_edge(shape, sp.q[r]);
    }
  }

  bool relevant(float x, float t) const { return t == 0.0f && x >= threshold_; }
  double centred(float x) const { return static_cast<double>(x) - sp_.centre; }
  int lo(double v) const { return count_at_most(low_.data(), static_cast<int>(low_.size()), v); }
  int hi(double v) const { return count_at_most(high_.data(), static_cast<int>(high_.size()), v); }

  /** FP_r for every rank, and the number of relevant negatives. */
  std::vector<double> false_positives(const float* x, const float* t, int64_t n, int64_t& relevant_count) const {
    const int P = static_cast<int>(sp_.q.size());
    std::vector<double> full_end(P + 1, 0.0), window_count(P + 1, 0.0), window_sum(P + 1, 0.0);
    relevant_count = 0;
    for (int64_t k = 0; k < n; k++) {
      if (!relevant(x[k], t[k])) continue;
      relevant_count++;
      const double v = centred(x[k]);
      const int l = lo(v), h = hi(v);
      full_end[l] += 1;
      if (l < h) {
        window_count[l] += 1;
        window_count[h] -= 1;
        window_sum[l] += v;
        window_sum[h] -= v;
      }
    }
    std::vector<double> fp(P);
    double full_above = 0;
    for (int r = P - 1; r >= 0; r--) {
      full_above += full_end[r + 1];
      fp[r] = full_above;
    }
    double count = 0, sum = 0;
    for (int r = 0; r < P; r++) {
      count += window_count[r];
      sum += window_sum[r];
      fp[r] = false_positives_from_aggregates(shape_, fp[r], count, sum, sp_.q[r]);
    }
    return fp;
  }

  /** g_k = scale · Σ_r weight_r H(s_k − s_r) for every relevant negative k, into out (and also_to). */
  void scatter(const float* x, const float* t, int64_t n, const std::vector<double>& weight, double scale, float* out,
               float* also_to) const {
    const int P = static_cast<int>(weight.size());
    std::vector<double> W(P + 1, 0.0), WQ(P + 1, 0.0);
    for (int r = 0; r < P; r++) {
      W[r + 1] = W[r] + weight[r] * scale;
      WQ[r + 1] = WQ[r] + weight[r] * scale * sp_.q[r];
    }
    for (int64_t k = 0; k < n; k++) {
      if (!relevant(x[k], t[k])) continue;
      const double v = centred(x[k]);
      const float g = static_cast<float>(negative_gradient(shape_, W.data(), WQ.data(), lo(v), hi(v), v));
      if (out) out[k] = g;
      if (also_to) also_to[k] = g;
    }
  }

 private:
  const SortedPositives& sp_;
  StepShape shape_;
  float threshold_;
  std::vector<double> low_, high_;
};

void zero(float* a, int64_t n) {
  if (a) memset(a, 0, sizeof(float) * static_cast<size_t>(n));
}

void write_counts(int64_t* counts, int64_t positives, int64_t relevant) {
  if (!counts) return;
  counts[0] = positives;
  counts[1] = relevant;
}

}  // namespace
}  // namespace ranksort

using namespace ranksort;

extern "C" int ranksort_rank_sort_cpu(const float* x, const float* t, int64_t n, double delta, double eps, float* grad_ranking,
                                      float* grad_sorting, float* grad, float* losses, int64_t* counts) {
  const int kind = RANKSORT_LOSS_RANK_SORT;
  if (int s = check_common_arguments(kind, n, delta, eps)) return s;
  if (!x || !t || !losses) return fail(RANKSORT_ERR_INVALID_ARGUMENT, "RankSortLoss: logits, targets and losses must not be NULL");
  SortedPositives sp;
  if (int s = validate_and_sort(kind, x, t, n, PositiveRule::GreaterThanZero, sp)) return s;
  zero(grad_ranking, n);
  zero(grad_sorting, n);
  zero(grad, n);
  losses[0] = losses[1] = 0.0f;
  const int P = static_cast<int>(sp.q.size());
  write_counts(counts, P, 0);
  if (P == 0) return fail(RANKSORT_OK, "");

  const StepShape shape = make_step_shape(delta, 1.0);
  std::vector<RankSortPairSums> sums(P);
  for (int i = 0; i < P; i++)
    for (int j = 0; j < P; j++) sums[i].add(shape, sp.q[i], sp.target[i], sp.q[j], sp.target[j]);

  NegativeWindows windows(sp, shape, delta);
  int64_t relevant = 0;
  const std::vector<double> fp = windows.false_positives(x, t, n, relevant);

  std::vector<double> ranking_grad(P), sorting_grad(P), negative_weight(P), sorting_weight(P);
  double ranking_sum = 0, sorting_sum = 0;
  for (int r = 0; r < P; r++) {
    const RankSortPositiveUpdate u = rank_sort_update(sums[r], fp[r], eps);
    ranking_sum += u.ranking_error;
    sorting_sum += u.sorting_error;
    ranking_grad[r] = u.ranking_grad;
    sorting_grad[r] = u.sorting_grad;
    negative_weight[r] = u.negative_weight;
    sorting_weight[r] = u.sorting_weight;
  }
  // What each positive j receives from the positives i with a strictly higher target.
  for (int j = 0; j < P; j++) {
    double received = 0;
    for (int i = 0; i < P; i++)
      if (sp.target[i] > sp.target[j]) received += sorting_weight[i] * step_value(shape, sp.q[j] - sp.q[i]);
    sorting_grad[j] += received;
  }
  const double inv_p = 1.0 / P;
  for (int r = 0; r < P; r++) {
    const int64_t k = sp.flat_index[sp.order[r]];
    const double gr = ranking_grad[r] * inv_p, gs = sorting_grad[r] * inv_p;
    if (grad_ranking) grad_ranking[k] = static_cast<float>(gr);
    if (grad_sorting) grad_sorting[k] = static_cast<float>(gs);
    if (grad) grad[k] = static_cast<float>(gr + gs);
  }
  windows.scatter(x, t, n, negative_weight, inv_p, grad_ranking, grad);
  losses[0] = static_cast<float>(ranking_sum * inv_p);
  losses[1] = static_cast<float>(sorting_sum * inv_p);
  write_counts(counts, P, relevant);
  return fail(RANKSORT_OK, "");
}

extern "C" int ranksort_ap_cpu(const float* x, const float* t, int64_t n, double delta, float* grad, float* loss, int64_t* counts) {
  const int kind = RANKSORT_LOSS_AP;
  if (int s = check_common_arguments(kind, n, delta, 0.0)) return s;
  if (!x || !t || !grad || !loss) return fail(RANKSORT_ERR_INVALID_ARGUMENT, "APLoss: logits, targets, grad and loss must not be NULL");
  SortedPositives sp;
  if (int s = validate_and_sort(kind, x, t, n, PositiveRule::ExactlyOne, sp)) return s;
  zero(grad, n);
  loss[0] = 0.0f;
  const int P = static_cast<int>(sp.q.size());
  write_counts(counts, P, 0);
  if (P == 0) return fail(RANKSORT_OK, "");

  const StepShape shape = make_step_shape(delta, 0.5);
  NegativeWindows windows(sp, shape, delta);
  int64_t relevant = 0;
  const std::vector<double> fp = windows.false_positives(x, t, n, relevant);
  std::vector<double> negative_weight(P);
  const double inv_p = 1.0 / P;
  double running_max = 0, precision_sum = 0;
  for (int i = 0; i < P; i++) {
    ExcludingSelfSums s;
    for (int j = 0; j < P; j++)
      if (j != i) s.add(shape, sp.q[i], sp.q[j], 0.0);
    const double rank_positive = 1.0 + s.others;
    const double rank = rank_positive + fp[i];
    const double precision = rank_positive / rank;
    negative_weight[i] = ap_negative_weight(precision, running_max, rank);
    running_max = fmax(running_max, precision);
    precision_sum += running_max;
    grad[sp.flat_index[sp.order[i]]] = static_cast<float>(-(1.0 - running_max) * inv_p);
  }
  windows.scatter(x, t, n, negative_weight, inv_p, grad, nullptr);
  loss[0] = static_cast<float>(1.0 - precision_sum * inv_p);
  write_counts(counts, P, relevant);
  return fail(RANKSORT_OK, "");
}

extern "C" int ranksort_alrp_cpu(const float* x, const float* t, int64_t n, const float* reg, int64_t num_regression, double delta,
                                 double eps, float* grad, float* loss, float* rank_out, int64_t* order_out, int64_t* counts) {
  const int kind = RANKSORT_LOSS_ALRP;
  if (int s = check_common_arguments(kind, n, delta, eps)) return s;
  if (!x || !t || !grad || !loss || (num_regression > 0 && !reg)) {
    return fail(RANKSORT_ERR_INVALID_ARGUMENT, "ALRPLoss: logits, targets, regression_losses, grad and loss must not be NULL");
  }
  SortedPositives sp;
  if (int s = validate_and_sort(kind, x, t, n, PositiveRule::ExactlyOne, sp)) return s;
  const int P = static_cast<int>(sp.q.size());
  if (num_regression != P) {
    return fail(RANKSORT_ERR_REGRESSION_LENGTH,
                data_error_message(kind, RANKSORT_ERR_REGRESSION_LENGTH, P, static_cast<double>(num_regression)));
  }
  for (int p = 0; p < P; p++) {
    if (!isfinite(reg[p])) return fail(RANKSORT_ERR_NONFINITE_REGRESSION, data_error_message(kind, RANKSORT_ERR_NONFINITE_REGRESSION, p, reg[p]));
  }
  zero(grad, n);
  loss[0] = 0.0f;
  write_counts(counts, P, 0);
  if (P == 0) return fail(RANKSORT_OK, "");

  const StepShape shape = make_step_shape(delta, 0.5);
  NegativeWindows windows(sp, shape, delta);
  int64_t relevant = 0;
  const std::vector<double> fp = windows.false_positives(x, t, n, relevant);
  std::vector<double> negative_weight(P, 0.0);
  const double inv_p = 1.0 / P;
  double precision_sum = 0;
  for (int i = 0; i < P; i++) {
    ExcludingSelfSums s;
    for (int j = 0; j < P; j++)
      if (j != i) s.add(shape, sp.q[i], sp.q[j], reg[sp.order[j]]);
    const double rank_positive = 1.0 + s.others;
    const double total = rank_positive + fp[i];
    const int p = sp.order[i];
    if (rank_out) rank_out[p] = static_cast<float>(total);
    if (order_out) order_out[i] = p;
    precision_sum += rank_positive / total;
    if (fp[i] > eps) {
      const double g = -(s.regression + fp[i]) / total;
      grad[sp.flat_index[p]] = static_cast<float>(g * inv_p);
      negative_weight[i] = -g / fp[i];
    }
  }
  windows.scatter(x, t, n, negative_weight, inv_p, grad, nullptr);
  loss[0] = static_cast<float>(1.0 - precision_sum * inv_p);
  write_counts(counts, P, relevant);
  return fail(RANKSORT_OK, "");
}
