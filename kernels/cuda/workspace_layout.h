// Where each scratch array lives inside the caller's workspace. The layout depends only on n, the
// positive capacity and the compaction's temporary size, never on the data, so the workspace can be
// sized and the kernels launched without reading anything back from the device.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "step_math.h"

namespace ranksort {

/** Scalars the kernels share through device memory (reset at the start of every call). */
struct DeviceState {
  unsigned long long error_key;  // smallest (priority << 56 | index << 8 | status); all ones: no error
  unsigned int min_positive_key; // orderable bits of the smallest positive logit
  int num_positives;             // written by the compaction
  unsigned long long num_relevant;
};

constexpr unsigned long long kNoError = ~0ull;

/** Element errors (priority 0) win over the later checks of regression losses and capacity (1). */
RANKSORT_HD unsigned long long error_key(unsigned priority, long long index, int status) {
  return (static_cast<unsigned long long>(priority) << 56) | (static_cast<unsigned long long>(index) << 8) |
         static_cast<unsigned long long>(status);
}

struct WorkspaceLayout {
  // Offsets in bytes from the workspace start.
  size_t state, positive_flat, compaction_temp, order, q, target, regression, low, high, pair_sums, excluding_self,
      false_positives, ranking_grad, sorting_grad, negative_weight, sorting_weight, prefix_w, prefix_wq, full_end,
      window_count, window_sum, zeroed_end;
  size_t compaction_temp_bytes;
  size_t total;

  static size_t align(size_t x) { return (x + 255) & ~size_t{255}; }

  WorkspaceLayout(int64_t n, int64_t capacity, size_t compaction_bytes) : compaction_temp_bytes(compaction_bytes) {
    const size_t C = static_cast<size_t>(capacity);
    size_t at = 0;
    auto take = [&at](size_t bytes) {
      const size_t here = at;
      at = align(at + bytes);
      return here;
    };
    state = take(sizeof(DeviceState));
    positive_flat = take(sizeof(int) * static_cast<size_t>(n));
    compaction_temp = take(compaction_bytes);
    order = take(sizeof(int) * C);
    q = take(sizeof(double) * C);
    target = take(sizeof(double) * C);
    regression = take(sizeof(double) * C);
    low = take(sizeof(double) * C);
    high = take(sizeof(double) * C);
    pair_sums = take(sizeof(RankSortPairSums) * C);
    excluding_self = take(sizeof(ExcludingSelfSums) * C);
    false_positives = take(sizeof(double) * C);
    ranking_grad = take(sizeof(double) * C);
    sorting_grad = take(sizeof(double) * C);
    negative_weight = take(sizeof(double) * C);
    sorting_weight = take(sizeof(double) * C);
    prefix_w = take(sizeof(double) * (C + 1));
    prefix_wq = take(sizeof(double) * (C + 1));
    // The negatives' difference arrays are accumulated with atomics: zeroed by one memset per call.
    full_end = take(sizeof(unsigned long long) * (C + 1));
    window_count = take(sizeof(long long) * (C + 1));
    window_sum = take(sizeof(double) * (C + 1));
    zeroed_end = at;
    total = at;
  }

  template <class T>
  T* at(void* base, size_t offset) const {
    return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
  }
};

}  // namespace ranksort
