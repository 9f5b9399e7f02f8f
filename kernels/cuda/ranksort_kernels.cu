// The CUDA kernels and the stream-ordered device-pointer entry points (ranksort_*_device).
//
// One call is a fixed sequence of launches on the caller's stream; nothing is read back to the
// host, so the number of positives P lives in device memory and every P-dependent kernel loops
// over it (grids are sized by the workspace's positive capacity). The steps mirror
// reference_cpu.cc, which runs the same arithmetic (step_math.h) sequentially:
//   reset → validate + min positive logit (atomics) → compact positives in flattened order (CUB)
//   → rank positives by logit (pairwise count, stable) → pairwise positive sums, one block per
//   positive, O(P²) — P is at most a few thousand in detection, and pairwise sums need neither a
//   sort by target nor a Fenwick tree → negatives: two binary searches per relevant negative into
//   the window breakpoints, per-thread runs of equal (lo, hi) flushed to difference arrays with
//   float64 atomics → one block scans them into FP_r and finishes every positive → negatives'
//   gradients, one multiply-add each → report.
// Errors in the data are recorded as the smallest error key (atomicMin) and stop later kernels.
#include <cuda_runtime.h>

#include <cub/device/device_select.cuh>
#include <string>
#include <thrust/iterator/counting_iterator.h>

#include "block_reduce.cuh"
#include "error_messages.h"
#include "ranksort_cuda.h"
#include "step_math.h"
#include "workspace_layout.h"

namespace ranksort {
namespace {

constexpr int kThreads = 256;          // threads of the element-wise and per-positive kernels
constexpr int kFinalizeThreads = 1024; // the single block that scans over positive ranks
constexpr int64_t kDefaultCapacity = 65536;

/** Pointers into the workspace for one call. */
struct Scratch {
  DeviceState* state;
  int* positive_flat;
  int* order;
  double *q, *target, *regression, *low, *high;
  RankSortPairSums* pair_sums;
  ExcludingSelfSums* excluding_self;
  double *false_positives, *ranking_grad, *sorting_grad, *negative_weight, *sorting_weight, *prefix_w, *prefix_wq;
  unsigned long long* full_end;
  long long* window_count;
  double* window_sum;
};

Scratch carve(const WorkspaceLayout& l, void* ws) {
  Scratch s;
  s.state = l.at<DeviceState>(ws, l.state);
  s.positive_flat = l.at<int>(ws, l.positive_flat);
  s.order = l.at<int>(ws, l.order);
  s.q = l.at<double>(ws, l.q);
  s.target = l.at<double>(ws, l.target);
  s.regression = l.at<double>(ws, l.regression);
  s.low = l.at<double>(ws, l.low);
  s.high = l.at<double>(ws, l.high);
  s.pair_sums = l.at<RankSortPairSums>(ws, l.pair_sums);
  s.excluding_self = l.at<ExcludingSelfSums>(ws, l.excluding_self);
  s.false_positives = l.at<double>(ws, l.false_positives);
  s.ranking_grad = l.at<double>(ws, l.ranking_grad);
  s.sorting_grad = l.at<double>(ws, l.sorting_grad);
  s.negative_weight = l.at<double>(ws, l.negative_weight);
  s.sorting_weight = l.at<double>(ws, l.sorting_weight);
  s.prefix_w = l.at<double>(ws, l.prefix_w);
  s.prefix_wq = l.at<double>(ws, l.prefix_wq);
  s.full_end = l.at<unsigned long long>(ws, l.full_end);
  s.window_count = l.at<long long>(ws, l.window_count);
  s.window_sum = l.at<double>(ws, l.window_sum);
  return s;
}

/** Positives by rule, for the compaction (validation has already run; errors stop later steps). */
struct IsPositive {
  const float* targets;
  PositiveRule rule;
  __device__ bool operator()(int i) const { return is_positive_target(targets[i], rule); }
};

__device__ __forceinline__ bool failed(const DeviceState* st) { return st->error_key != kNoError; }

__device__ __forceinline__ float min_positive_logit(const DeviceState* st) {
  return float_from_orderable_bits(st->min_positive_key);
}

__global__ void reset_state(DeviceState* st) {
  st->error_key = kNoError;
  st->min_positive_key = 0xffffffffu;
  st->num_positives = 0;
  st->num_relevant = 0;
}

__global__ void validate_elements(const float* __restrict__ x, const float* __restrict__ t, int n, PositiveRule rule,
                                  DeviceState* st) {
  unsigned long long first_error = kNoError;
  unsigned int min_key = 0xffffffffu;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n; i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const float xi = x[i];
    const int kind = classify_element(xi, t[i], rule);
    if (kind == kPositive) {
      const unsigned int key = orderable_float_bits(xi + 0.0f);
      min_key = key < min_key ? key : min_key;
    } else if (kind < 0) {
      const int status = kind == kNanTarget ? RANKSORT_ERR_NAN_TARGET
                         : kind == kNonFiniteLogit ? RANKSORT_ERR_NONFINITE_LOGIT
                                                   : RANKSORT_ERR_BAD_POSITIVE_TARGET;
      const unsigned long long key = error_key(0, i, status);
      first_error = key < first_error ? key : first_error;
    }
  }
  first_error = block_reduce(first_error, MinOp());
  min_key = block_reduce(min_key, MinOp());
  if (threadIdx.x == 0) {
    if (first_error != kNoError) atomicMin(&st->error_key, first_error);
    if (min_key != 0xffffffffu) atomicMin(&st->min_positive_key, min_key);
  }
}

/**
 * Rank every positive by logit, ties by flattened order (a stable sort, as the CPU kernel's), by
 * counting the positives before it: O(P²) comparisons, one block per positive. Also checks the
 * capacity and, for aLRP, the regression losses.
 */
__global__ void rank_positives(const float* __restrict__ x, const float* __restrict__ t, bool with_regression,
                               const float* __restrict__ reg, int64_t num_regression, int capacity, StepShape shape, Scratch s) {
  DeviceState* st = s.state;
  if (failed(st)) return;
  const int P = st->num_positives;
  if (P > capacity) {
    if (blockIdx.x == 0 && threadIdx.x == 0) atomicMin(&st->error_key, error_key(1, P, RANKSORT_ERR_TOO_MANY_POSITIVES));
    return;
  }
  if (with_regression && P != num_regression) {
    if (blockIdx.x == 0 && threadIdx.x == 0) atomicMin(&st->error_key, error_key(1, P, RANKSORT_ERR_REGRESSION_LENGTH));
    return;
  }
  const double centre = min_positive_logit(st);
  for (int p = blockIdx.x; p < P; p += gridDim.x) {
    const int flat = s.positive_flat[p];
    const float key = x[flat] + 0.0f;  // + 0: −0 and +0 tie
    int before = 0;
    for (int j = threadIdx.x; j < P; j += blockDim.x) {
      const float other = x[s.positive_flat[j]] + 0.0f;
      before += (other < key) || (other == key && j < p);
    }
    before = block_reduce(before, SumOp());
    if (threadIdx.x == 0) {
      const int r = before;
      const double q = static_cast<double>(key) - centre;
      s.order[r] = p;
      s.q[r] = q;
      s.target[r] = t[flat];
      s.low[r] = low_edge(shape, q);
      s.high[r] = high_edge(shape, q);
      if (with_regression) {  // P == num_regression > 0 here, so reg is valid
        const float value = reg[p];
        if (!isfinite(value)) atomicMin(&st->error_key, error_key(1, p, RANKSORT_ERR_NONFINITE_REGRESSION));
        s.regression[r] = value;
      } else {
        s.regression[r] = 0.0;
      }
    }
  }
}

/** RankSort's sums over all positives j for each positive i, one block per i. */
__global__ void rank_sort_pair_sums(StepShape shape, Scratch s) {
  if (failed(s.state)) return;
  const int P = s.state->num_positives;
  for (int i = blockIdx.x; i < P; i += gridDim.x) {
    const double qi = s.q[i], ti = s.target[i];
    RankSortPairSums acc;
    for (int j = threadIdx.x; j < P; j += blockDim.x) acc.add(shape, qi, ti, s.q[j], s.target[j]);
    RankSortPairSums total;
    total.rank_positive = block_reduce(acc.rank_positive, SumOp());
    total.sort_numerator = block_reduce(acc.sort_numerator, SumOp());
    total.target_rank = block_reduce(acc.target_rank, SumOp());
    total.target_sort_numerator = block_reduce(acc.target_sort_numerator, SumOp());
    total.lower_target = block_reduce(acc.lower_target, SumOp());
    if (threadIdx.x == 0) s.pair_sums[i] = total;
  }
}

/** AP/aLRP sums over the other positives j ≠ i (and the regression-weighted sum), one block per i. */
__global__ void excluding_self_sums(StepShape shape, Scratch s) {
  if (failed(s.state)) return;
  const int P = s.state->num_positives;
  for (int i = blockIdx.x; i < P; i += gridDim.x) {
    const double qi = s.q[i];
    ExcludingSelfSums acc;
    for (int j = threadIdx.x; j < P; j += blockDim.x)
      if (j != i) acc.add(shape, qi, s.q[j], s.regression[j]);
    ExcludingSelfSums total;
    total.others = block_reduce(acc.others, SumOp());
    total.regression = block_reduce(acc.regression, SumOp());
    if (threadIdx.x == 0) s.excluding_self[i] = total;
  }
}

/** (lo, hi) of a negative at centred logit v; the common case "window covers every positive" first. */
__device__ __forceinline__ void window_of(const Scratch& s, int P, double v, int& lo, int& hi) {
  if (v >= s.high[P - 1] && v < s.low[0]) {
    lo = 0;
    hi = P;
    return;
  }
  lo = count_at_most(s.low, P, v);
  hi = count_at_most(s.high, P, v);
}

/** The negatives' difference arrays over positive ranks: the global ones, or a block's private copy. */
struct DifferenceArrays {
  unsigned long long* full_end;
  long long* window_count;
  double* window_sum;
};

/** Add a run of `count` negatives with logit sum `sum` and window (lo, hi) to the difference arrays. */
__device__ __forceinline__ void flush_run(const DifferenceArrays& d, int lo, int hi, unsigned long long count, double sum) {
  if (count == 0) return;
  atomicAdd(&d.full_end[lo], count);
  if (lo < hi) {
    atomicAdd(reinterpret_cast<unsigned long long*>(&d.window_count[lo]), count);
    atomicAdd(reinterpret_cast<unsigned long long*>(&d.window_count[hi]), 0ull - count);  // two's complement −count
    atomicAdd(&d.window_sum[lo], sum);
    atomicAdd(&d.window_sum[hi], -sum);
  }
}

/** Bytes of a block's private difference arrays for `capacity` positives (see accumulate_negatives). */
constexpr size_t private_bins_bytes(int64_t capacity) {
  return static_cast<size_t>(capacity + 1) * (sizeof(unsigned long long) + sizeof(long long) + sizeof(double));
}

/**
 * The false-positive pass over the relevant negatives. Each thread keeps a run of consecutive
 * negatives that share a window in registers and flushes it when the window changes, so the common
 * early-training case (every negative in one window) costs a handful of atomics. Late in training
 * the windows change from one negative to the next; with kPrivate each block then accumulates into
 * its own copy of the difference arrays in shared memory and adds that to the global arrays once,
 * which keeps millions of atomics off global memory (used when the capacity fits in shared memory).
 */
template <bool kPrivate>
__global__ void accumulate_negatives(const float* __restrict__ x, const float* __restrict__ t, int n, double delta, Scratch s) {
  extern __shared__ __align__(8) unsigned char block_bins[];
  if (failed(s.state)) return;
  const int P = s.state->num_positives;
  if (P == 0) return;
  const DifferenceArrays global{s.full_end, s.window_count, s.window_sum};
  DifferenceArrays target = global;
  if (kPrivate) {
    target.full_end = reinterpret_cast<unsigned long long*>(block_bins);
    target.window_count = reinterpret_cast<long long*>(target.full_end + P + 1);
    target.window_sum = reinterpret_cast<double*>(target.window_count + P + 1);
    for (int b = threadIdx.x; b <= P; b += blockDim.x) {
      target.full_end[b] = 0;
      target.window_count[b] = 0;
      target.window_sum[b] = 0;
    }
    __syncthreads();
  }
  const float min_logit = min_positive_logit(s.state);
  const float threshold = relevant_threshold(min_logit, delta);
  const double centre = min_logit;
  int run_lo = 0, run_hi = 0;
  unsigned long long run_count = 0, relevant = 0;
  double run_sum = 0;
  for (long long k = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; k < n; k += static_cast<long long>(gridDim.x) * blockDim.x) {
    const float xk = x[k];
    if (!(t[k] == 0.0f && xk >= threshold)) continue;
    relevant++;
    const double v = static_cast<double>(xk) - centre;
    int lo, hi;
    window_of(s, P, v, lo, hi);
    if (lo != run_lo || hi != run_hi) {
      flush_run(target, run_lo, run_hi, run_count, run_sum);
      run_lo = lo;
      run_hi = hi;
      run_count = 0;
      run_sum = 0;
    }
    run_count++;
    run_sum += v;
  }
  flush_run(target, run_lo, run_hi, run_count, run_sum);
  if (kPrivate) {
    __syncthreads();
    for (int b = threadIdx.x; b <= P; b += blockDim.x) {
      if (target.full_end[b]) atomicAdd(&global.full_end[b], target.full_end[b]);
      if (target.window_count[b]) {
        atomicAdd(reinterpret_cast<unsigned long long*>(&global.window_count[b]), static_cast<unsigned long long>(target.window_count[b]));
      }
      if (target.window_sum[b] != 0) atomicAdd(&global.window_sum[b], target.window_sum[b]);
    }
  }
  relevant = block_reduce(relevant, SumOp());
  if (threadIdx.x == 0 && relevant) atomicAdd(&s.state->num_relevant, relevant);
}

enum class Loss { RankSort, AP, ALRP };

struct FinalizeOutputs {
  float* losses;         // RankSort: 2, AP/aLRP: 1
  float* grad;           // AP/aLRP positives' gradient (RankSort writes its positives later)
  float* rank;           // aLRP, flattened positive order
  int64_t* order;        // aLRP
};

/**
 * One block: FP_r from the difference arrays, every positive's update, the losses, and the prefix
 * sums W/WQ of the negatives' weights. Ranks are processed in chunks of the block size.
 */
template <Loss kLoss>
__global__ void __launch_bounds__(kFinalizeThreads) finalize_positives(StepShape shape, double eps, Scratch s, FinalizeOutputs out) {
  __shared__ typename ChunkedScan<kFinalizeThreads>::Storage scan_storage;
  if (failed(s.state)) return;
  const int P = s.state->num_positives;
  if (P == 0) {
    if (threadIdx.x == 0) {
      out.losses[0] = 0.0f;
      if (kLoss == Loss::RankSort) out.losses[1] = 0.0f;
    }
    return;
  }
  ChunkedScan<kFinalizeThreads> scan(scan_storage);
  const double relevant = static_cast<double>(s.state->num_relevant);  // = Σ full_end
  const double inv_p = 1.0 / P;
  double full_carry = 0, count_carry = 0, sum_carry = 0, max_carry = 0, w_carry = 0, wq_carry = 0;
  double loss_a = 0, loss_b = 0;  // per-thread partial sums of the per-positive errors/precisions
  if (threadIdx.x == 0) {
    s.prefix_w[0] = 0;
    s.prefix_wq[0] = 0;
  }
  for (int base = 0; base < P; base += kFinalizeThreads) {
    const int r = base + threadIdx.x;
    const bool active = r < P;
    const double full_through = scan.inclusive_sum(active ? static_cast<double>(s.full_end[r]) : 0.0, full_carry);
    const double window_count = scan.inclusive_sum(active ? static_cast<double>(s.window_count[r]) : 0.0, count_carry);
    const double window_sum = scan.inclusive_sum(active ? s.window_sum[r] : 0.0, sum_carry);
    const double q = active ? s.q[r] : 0.0;
    const double fp = active ? false_positives_from_aggregates(shape, relevant - full_through, window_count, window_sum, q) : 0.0;
    double weight = 0;
    if (kLoss == Loss::RankSort) {
      if (active) {
        const RankSortPositiveUpdate u = rank_sort_update(s.pair_sums[r], fp, eps);
        loss_a += u.ranking_error;
        loss_b += u.sorting_error;
        s.ranking_grad[r] = u.ranking_grad;
        s.sorting_grad[r] = u.sorting_grad;
        s.sorting_weight[r] = u.sorting_weight;
        weight = u.negative_weight;
      }
    } else if (kLoss == Loss::AP) {
      const double rank_positive = active ? 1.0 + s.excluding_self[r].others : 1.0;
      const double rank = rank_positive + fp;
      const double precision = active ? rank_positive / rank : 0.0;
      const double before = scan.exclusive_max(precision, max_carry);
      if (active) {
        const double running_max = before > precision ? before : precision;
        weight = ap_negative_weight(precision, before, rank);
        loss_a += running_max;
        out.grad[s.positive_flat[s.order[r]]] = static_cast<float>(-(1.0 - running_max) * inv_p);
      }
    } else {
      if (active) {
        const ExcludingSelfSums e = s.excluding_self[r];
        const double rank_positive = 1.0 + e.others;
        const double total = rank_positive + fp;
        const int p = s.order[r];
        if (out.rank) out.rank[p] = static_cast<float>(total);
        if (out.order) out.order[r] = p;
        loss_a += rank_positive / total;
        if (fp > eps) {
          const double g = -(e.regression + fp) / total;
          out.grad[s.positive_flat[p]] = static_cast<float>(g * inv_p);
          weight = -g / fp;
        }
      }
    }
    if (active) {
      s.false_positives[r] = fp;
      s.negative_weight[r] = weight;
    }
    const double w = weight * inv_p;
    const double w_through = scan.inclusive_sum(w, w_carry);
    const double wq_through = scan.inclusive_sum(w * q, wq_carry);
    if (active) {
      s.prefix_w[r + 1] = w_through;
      s.prefix_wq[r + 1] = wq_through;
    }
  }
  loss_a = block_reduce(loss_a, SumOp());
  loss_b = block_reduce(loss_b, SumOp());
  if (threadIdx.x == 0) {
    if (kLoss == Loss::RankSort) {
      out.losses[0] = static_cast<float>(loss_a * inv_p);
      out.losses[1] = static_cast<float>(loss_b * inv_p);
    } else {
      out.losses[0] = static_cast<float>(1.0 - loss_a * inv_p);
    }
  }
}

/**
 * RankSort positives: what each positive j receives from those with a strictly higher target
 * (Σ_{t_i > t_j} SE_i/D_i · H(s_j − s_i), pairwise, one block per j), then its three outputs.
 */
__global__ void rank_sort_positive_outputs(StepShape shape, Scratch s, float* grad_ranking, float* grad_sorting, float* grad) {
  if (failed(s.state)) return;
  const int P = s.state->num_positives;
  const double inv_p = 1.0 / (P > 0 ? P : 1);
  for (int j = blockIdx.x; j < P; j += gridDim.x) {
    const double qj = s.q[j], tj = s.target[j];
    double received = 0;
    for (int i = threadIdx.x; i < P; i += blockDim.x)
      if (s.target[i] > tj) received += s.sorting_weight[i] * step_value(shape, qj - s.q[i]);
    received = block_reduce(received, SumOp());
    if (threadIdx.x == 0) {
      const int flat = s.positive_flat[s.order[j]];
      const double gr = s.ranking_grad[j] * inv_p;
      const double gs = (s.sorting_grad[j] + received) * inv_p;
      if (grad_ranking) grad_ranking[flat] = static_cast<float>(gr);
      if (grad_sorting) grad_sorting[flat] = static_cast<float>(gs);
      if (grad) grad[flat] = static_cast<float>(gr + gs);
    }
  }
}

/** Every relevant negative's gradient, A + B·v on its window (one multiply-add after the search). */
__global__ void negative_gradients(const float* __restrict__ x, const float* __restrict__ t, int n, double delta, StepShape shape,
                                   Scratch s, float* out, float* also_to) {
  if (failed(s.state)) return;
  const int P = s.state->num_positives;
  if (P == 0) return;
  const float min_logit = min_positive_logit(s.state);
  const float threshold = relevant_threshold(min_logit, delta);
  const double centre = min_logit;
  for (long long k = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; k < n; k += static_cast<long long>(gridDim.x) * blockDim.x) {
    const float xk = x[k];
    if (!(t[k] == 0.0f && xk >= threshold)) continue;
    const double v = static_cast<double>(xk) - centre;
    int lo, hi;
    window_of(s, P, v, lo, hi);
    const float g = static_cast<float>(negative_gradient(shape, s.prefix_w, s.prefix_wq, lo, hi, v));
    if (out) out[k] = g;
    if (also_to) also_to[k] = g;
  }
}

/** The call's report, and zero losses when the data was rejected. */
__global__ void write_report(const float* x, const float* t, const float* reg, int64_t num_regression, int capacity, Scratch s,
                             float* losses, int num_losses, ranksort_report* report) {
  const DeviceState* st = s.state;
  int status = RANKSORT_OK;
  long long index = -1;
  double value = 0;
  if (st->error_key != kNoError) {
    status = static_cast<int>(st->error_key & 0xffu);
    index = static_cast<long long>((st->error_key >> 8) & ((1ull << 48) - 1));
    switch (status) {
      case RANKSORT_ERR_NONFINITE_LOGIT: value = x[index]; break;
      case RANKSORT_ERR_NAN_TARGET:
      case RANKSORT_ERR_BAD_POSITIVE_TARGET: value = t[index]; break;
      case RANKSORT_ERR_REGRESSION_LENGTH: value = static_cast<double>(num_regression); break;
      case RANKSORT_ERR_NONFINITE_REGRESSION: value = reg[index]; break;
      case RANKSORT_ERR_TOO_MANY_POSITIVES: value = capacity; break;
    }
    for (int i = 0; i < num_losses; i++) losses[i] = 0.0f;
  }
  if (report) {
    report->status = status;
    report->reserved = 0;
    report->index = index;
    report->value = value;
    report->num_positives = st->num_positives;
    report->num_relevant_negatives = static_cast<int64_t>(st->num_relevant);
  }
}

__global__ void weighted_sum(const float* a, const float* weight_a, const float* b, const float* weight_b, float* out, int64_t n) {
  const float wa = *weight_a;
  const float wb = b ? *weight_b : 0.0f;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = b ? wa * a[i] + wb * b[i] : wa * a[i];
}

// ---- host side of the device path ----

int cuda_failure(int kind, cudaError_t e, const char* what) {
  cudaGetLastError();  // clear a sticky launch error so the next call starts clean
  const int status = (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) ? RANKSORT_ERR_NO_DEVICE : RANKSORT_ERR_CUDA;
  return fail(status, std::string(loss_name(kind)) + ": " + what + ": " + cudaGetErrorString(e));
}

int64_t capacity_for(int64_t n, int64_t max_positives) {
  const int64_t cap = max_positives > 0 ? max_positives : (n < kDefaultCapacity ? n : kDefaultCapacity);
  return cap < 1 ? 1 : cap;
}

cudaError_t compaction_bytes(int n, size_t& bytes) {
  bytes = 0;
  return cub::DeviceSelect::If(nullptr, bytes, thrust::counting_iterator<int>(0), static_cast<int*>(nullptr),
                               static_cast<int*>(nullptr), n, IsPositive{nullptr, PositiveRule::GreaterThanZero});
}

/** What the launches need to know about the current device (host queries; nothing waits on the stream). */
struct DeviceLimits {
  int sms = 0;
  int shared_optin = 0;  // the most shared memory a block may ask for
};

cudaError_t device_limits(DeviceLimits& out) {
  int device = 0;
  cudaError_t e = cudaGetDevice(&device);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&out.sms, cudaDevAttrMultiProcessorCount, device);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&out.shared_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  return e;
}

/** Everything the three losses share up to the pairwise sums: reset, validate, compact, rank. */
struct Prepared {
  WorkspaceLayout layout;
  Scratch s;
  int n;
  int capacity;
  int element_grid;
  int positive_grid;
  DeviceLimits limits;
};

int prepare(int kind, const float* x, const float* t, int64_t n, bool with_regression, const float* reg, int64_t num_regression, double delta,
            double eps, int64_t max_positives, PositiveRule rule, StepShape shape, void* workspace, size_t workspace_bytes,
            cudaStream_t stream, Prepared& out) {
  if (int st = check_common_arguments(kind, n, delta, eps)) return st;
  if (!x || !t || !workspace) {
    return fail(RANKSORT_ERR_INVALID_ARGUMENT, std::string(loss_name(kind)) + ": logits, targets and workspace must not be NULL");
  }
  const int64_t capacity = capacity_for(n, max_positives);
  if (capacity >= (int64_t{1} << 31)) return fail(RANKSORT_ERR_INVALID_ARGUMENT, std::string(loss_name(kind)) + ": max_positives too large");
  size_t temp = 0;
  if (cudaError_t e = compaction_bytes(static_cast<int>(n), temp)) return cuda_failure(kind, e, "sizing the compaction");
  const WorkspaceLayout layout(n, capacity, temp);
  if (workspace_bytes < layout.total) {
    return fail(RANKSORT_ERR_WORKSPACE_TOO_SMALL, std::string(loss_name(kind)) + ": workspace has " + std::to_string(workspace_bytes) +
                                                      " bytes; ranksort_workspace_size asks for " + std::to_string(layout.total));
  }
  DeviceLimits limits;
  if (cudaError_t e = device_limits(limits)) return cuda_failure(kind, e, "querying the device");
  const int sms = limits.sms;
  out.limits = limits;
  out.layout = layout;
  out.s = carve(layout, workspace);
  out.n = static_cast<int>(n);
  out.capacity = static_cast<int>(capacity);
  const int64_t element_blocks = (n + kThreads - 1) / kThreads;
  out.element_grid = static_cast<int>(element_blocks < 8LL * sms ? element_blocks : 8LL * sms);
  out.positive_grid = static_cast<int>(capacity < 8LL * sms ? capacity : 8LL * sms);
  if (out.element_grid < 1) out.element_grid = 1;
  if (out.positive_grid < 1) out.positive_grid = 1;

  Scratch& s = out.s;
  char* base = static_cast<char*>(workspace);
  if (cudaError_t e = cudaMemsetAsync(base + layout.full_end, 0, layout.zeroed_end - layout.full_end, stream)) {
    return cuda_failure(kind, e, "clearing the workspace");
  }
  reset_state<<<1, 1, 0, stream>>>(s.state);
  validate_elements<<<out.element_grid, kThreads, 0, stream>>>(x, t, out.n, rule, s.state);
  size_t temp_bytes = layout.compaction_temp_bytes;
  if (cudaError_t e = cub::DeviceSelect::If(base + layout.compaction_temp, temp_bytes, thrust::counting_iterator<int>(0),
                                            s.positive_flat, &s.state->num_positives, out.n, IsPositive{t, rule}, stream)) {
    return cuda_failure(kind, e, "compacting the positives");
  }
  rank_positives<<<out.positive_grid, kThreads, 0, stream>>>(x, t, with_regression, reg, num_regression, out.capacity, shape, s);
  return RANKSORT_OK;
}

/** The false-positive pass, with per-block shared-memory difference arrays when the capacity fits. */
int launch_accumulate_negatives(int kind, const float* x, const float* t, double delta, const Prepared& p, cudaStream_t stream) {
  const size_t bytes = private_bins_bytes(p.capacity);
  cudaFuncAttributes attributes;
  if (cudaError_t e = cudaFuncGetAttributes(&attributes, accumulate_negatives<true>)) return cuda_failure(kind, e, "querying a kernel");
  if (bytes + attributes.sharedSizeBytes <= static_cast<size_t>(p.limits.shared_optin)) {
    if (cudaError_t e = cudaFuncSetAttribute(accumulate_negatives<true>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes))) {
      return cuda_failure(kind, e, "reserving shared memory");
    }
    int per_sm = 0;
    if (cudaError_t e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, accumulate_negatives<true>, kThreads, bytes)) {
      return cuda_failure(kind, e, "querying occupancy");
    }
    // One resident wave: every extra block would add its whole private array to the global one.
    const int64_t wave = static_cast<int64_t>(per_sm > 0 ? per_sm : 1) * p.limits.sms;
    const int grid = static_cast<int>(wave < p.element_grid ? wave : p.element_grid);
    accumulate_negatives<true><<<grid, kThreads, bytes, stream>>>(x, t, p.n, delta, p.s);
  } else {
    accumulate_negatives<false><<<p.element_grid, kThreads, 0, stream>>>(x, t, p.n, delta, p.s);
  }
  return RANKSORT_OK;
}

int zero_outputs(int kind, int64_t n, cudaStream_t stream, std::initializer_list<float*> outputs) {
  for (float* o : outputs) {
    if (!o) continue;
    if (cudaError_t e = cudaMemsetAsync(o, 0, sizeof(float) * static_cast<size_t>(n), stream)) return cuda_failure(kind, e, "clearing an output");
  }
  return RANKSORT_OK;
}

int finish_launches(int kind) {
  if (cudaError_t e = cudaGetLastError()) return cuda_failure(kind, e, "launching the kernels");
  return fail(RANKSORT_OK, "");
}

}  // namespace
}  // namespace ranksort

using namespace ranksort;

extern "C" int ranksort_workspace_size(int64_t n, int64_t max_positives, size_t* bytes) {
  if (!bytes) return fail(RANKSORT_ERR_INVALID_ARGUMENT, "ranksort_workspace_size: bytes must not be NULL");
  if (n <= 0 || n >= (int64_t{1} << 31)) return fail(RANKSORT_ERR_INVALID_ARGUMENT, "ranksort_workspace_size: n must be in [1, 2^31)");
  size_t temp = 0;
  if (cudaError_t e = compaction_bytes(static_cast<int>(n), temp)) return cuda_failure(RANKSORT_LOSS_RANK_SORT, e, "sizing the compaction");
  *bytes = WorkspaceLayout(n, capacity_for(n, max_positives), temp).total;
  return fail(RANKSORT_OK, "");
}

extern "C" int ranksort_rank_sort_device(const float* x, const float* t, int64_t n, double delta, double eps, int64_t max_positives,
                                         float* grad_ranking, float* grad_sorting, float* grad, float* losses, ranksort_report* report,
                                         void* workspace, size_t workspace_bytes, ranksort_stream stream_handle) {
  const int kind = RANKSORT_LOSS_RANK_SORT;
  const cudaStream_t stream = reinterpret_cast<cudaStream_t>(stream_handle);
  if (!losses) return fail(RANKSORT_ERR_INVALID_ARGUMENT, "RankSortLoss: losses must not be NULL");
  const StepShape shape = make_step_shape(delta, 1.0);  // RankSort's hard step is x >= 0: H(0) = 1
  if (int st = zero_outputs(kind, n > 0 ? n : 0, stream, {grad_ranking, grad_sorting, grad})) return st;
  Prepared p{WorkspaceLayout(1, 1, 0), {}, 0, 0, 0, 0, {}};
  if (int st = prepare(kind, x, t, n, false, nullptr, 0, delta, eps, max_positives, PositiveRule::GreaterThanZero, shape, workspace,
                       workspace_bytes, stream, p)) {
    return st;
  }
  rank_sort_pair_sums<<<p.positive_grid, kThreads, 0, stream>>>(shape, p.s);
  if (int st = launch_accumulate_negatives(kind, x, t, delta, p, stream)) return st;
  finalize_positives<Loss::RankSort><<<1, kFinalizeThreads, 0, stream>>>(shape, eps, p.s, FinalizeOutputs{losses, nullptr, nullptr, nullptr});
  rank_sort_positive_outputs<<<p.positive_grid, kThreads, 0, stream>>>(shape, p.s, grad_ranking, grad_sorting, grad);
  negative_gradients<<<p.element_grid, kThreads, 0, stream>>>(x, t, p.n, delta, shape, p.s, grad_ranking, grad);
  write_report<<<1, 1, 0, stream>>>(x, t, nullptr, 0, p.capacity, p.s, losses, 2, report);
  return finish_launches(kind);
}

extern "C" int ranksort_ap_device(const float* x, const float* t, int64_t n, double delta, int64_t max_positives, float* grad,
                                  float* loss, ranksort_report* report, void* workspace, size_t workspace_bytes,
                                  ranksort_stream stream_handle) {
  const int kind = RANKSORT_LOSS_AP;
  const cudaStream_t stream = reinterpret_cast<cudaStream_t>(stream_handle);
  if (!grad || !loss) return fail(RANKSORT_ERR_INVALID_ARGUMENT, "APLoss: grad and loss must not be NULL");
  const StepShape shape = make_step_shape(delta, 0.5);
  if (int st = zero_outputs(kind, n > 0 ? n : 0, stream, {grad})) return st;
  Prepared p{WorkspaceLayout(1, 1, 0), {}, 0, 0, 0, 0, {}};
  if (int st = prepare(kind, x, t, n, false, nullptr, 0, delta, 0.0, max_positives, PositiveRule::ExactlyOne, shape, workspace,
                       workspace_bytes, stream, p)) {
    return st;
  }
  excluding_self_sums<<<p.positive_grid, kThreads, 0, stream>>>(shape, p.s);
  if (int st = launch_accumulate_negatives(kind, x, t, delta, p, stream)) return st;
  finalize_positives<Loss::AP><<<1, kFinalizeThreads, 0, stream>>>(shape, 0.0, p.s, FinalizeOutputs{loss, grad, nullptr, nullptr});
  negative_gradients<<<p.element_grid, kThreads, 0, stream>>>(x, t, p.n, delta, shape, p.s, grad, nullptr);
  write_report<<<1, 1, 0, stream>>>(x, t, nullptr, 0, p.capacity, p.s, loss, 1, report);
  return finish_launches(kind);
}

extern "C" int ranksort_alrp_device(const float* x, const float* t, int64_t n, const float* reg, int64_t num_regression, double delta,
                                    double eps, int64_t max_positives, float* grad, float* loss, float* rank, int64_t* order,
                                    ranksort_report* report, void* workspace, size_t workspace_bytes, ranksort_stream stream_handle) {
  const int kind = RANKSORT_LOSS_ALRP;
  const cudaStream_t stream = reinterpret_cast<cudaStream_t>(stream_handle);
  if (!grad || !loss) return fail(RANKSORT_ERR_INVALID_ARGUMENT, "ALRPLoss: grad and loss must not be NULL");
  if (num_regression < 0 || (num_regression > 0 && !reg)) {
    return fail(RANKSORT_ERR_INVALID_ARGUMENT, "ALRPLoss: regression_losses must not be NULL (and its length not negative)");
  }
  const StepShape shape = make_step_shape(delta, 0.5);
  if (int st = zero_outputs(kind, n > 0 ? n : 0, stream, {grad})) return st;
  if (num_regression > 0) {
    if (rank) cudaMemsetAsync(rank, 0, sizeof(float) * static_cast<size_t>(num_regression), stream);
    if (order) cudaMemsetAsync(order, 0, sizeof(int64_t) * static_cast<size_t>(num_regression), stream);
  }
  Prepared p{WorkspaceLayout(1, 1, 0), {}, 0, 0, 0, 0, {}};
  if (int st = prepare(kind, x, t, n, true, reg, num_regression, delta, eps, max_positives, PositiveRule::ExactlyOne, shape, workspace,
                       workspace_bytes, stream, p)) {
    return st;
  }
  excluding_self_sums<<<p.positive_grid, kThreads, 0, stream>>>(shape, p.s);
  if (int st = launch_accumulate_negatives(kind, x, t, delta, p, stream)) return st;
  finalize_positives<Loss::ALRP><<<1, kFinalizeThreads, 0, stream>>>(shape, eps, p.s, FinalizeOutputs{loss, grad, rank, order});
  negative_gradients<<<p.element_grid, kThreads, 0, stream>>>(x, t, p.n, delta, shape, p.s, grad, nullptr);
  write_report<<<1, 1, 0, stream>>>(x, t, reg, num_regression, p.capacity, p.s, loss, 1, report);
  return finish_launches(kind);
}

extern "C" int ranksort_weighted_sum_device(const float* a, const float* weight_a, const float* b, const float* weight_b, float* out,
                                            int64_t n, ranksort_stream stream_handle) {
  if (!a || !weight_a || !out || (b && !weight_b) || n < 0) {
    return fail(RANKSORT_ERR_INVALID_ARGUMENT, "ranksort_weighted_sum_device: a, weight_a, out (and weight_b with b) are required");
  }
  if (n == 0) return fail(RANKSORT_OK, "");
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  weighted_sum<<<static_cast<int>(blocks < 4096 ? blocks : 4096), kThreads, 0, reinterpret_cast<cudaStream_t>(stream_handle)>>>(
      a, weight_a, b, weight_b, out, n);
  if (cudaError_t e = cudaGetLastError()) return cuda_failure(RANKSORT_LOSS_RANK_SORT, e, "launching the weighted sum");
  return fail(RANKSORT_OK, "");
}
