// Block-wide reductions and scans used by the loss kernels: warp shuffles for reductions (any
// arithmetic type and operator), cub::BlockScan for the single-block scans over positive ranks.
#pragma once

#include <cub/block/block_scan.cuh>

namespace ranksort {

struct SumOp {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct MinOp {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const { return b < a ? b : a; }
};
struct MaxOp {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const { return b > a ? b : a; }
};

/**
 * Reduce `v` over the block with `op`; the result is valid in thread 0 only. Every thread of the
 * block must call it (it synchronises), and blockDim.x must be a multiple of 32 and at most 1024.
 */
template <class T, class Op>
__device__ T block_reduce(T v, Op op) {
  __shared__ T warp_results[32];
  const unsigned lane = threadIdx.x & 31u;
  const unsigned warp = threadIdx.x >> 5;
  for (int offset = 16; offset > 0; offset >>= 1) v = op(v, __shfl_down_sync(0xffffffffu, v, offset));
  __syncthreads();  // warp_results may still be read by a previous call
  if (lane == 0) warp_results[warp] = v;
  __syncthreads();
  const unsigned warps = blockDim.x >> 5;
  if (warp == 0) {
    v = lane < warps ? warp_results[lane] : warp_results[0];
    // Lanes past the last warp repeat warp 0's value; only lanes < warps take part below.
    for (int offset = 16; offset > 0; offset >>= 1) {
      const T other = __shfl_down_sync(0xffffffffu, v, offset);
      if (lane + offset < warps) v = op(v, other);
    }
  }
  return v;
}

/**
 * Scans over the ranks [0, P) of the positives in one block of `kThreads` threads, chunk by chunk,
 * carrying the running total between chunks (P may exceed the block size).
 */
template <int kThreads>
class ChunkedScan {
 public:
  using Scan = cub::BlockScan<double, kThreads>;
  using Storage = typename Scan::TempStorage;

  __device__ explicit ChunkedScan(Storage& storage) : storage_(storage) {}

  /** Inclusive prefix sum of v over all chunks so far (every thread must call it, once per chunk). */
  __device__ double inclusive_sum(double v, double& carry) {
    double out, chunk_total;
    Scan(storage_).InclusiveSum(v, out, chunk_total);
    __syncthreads();
    out += carry;
    carry += chunk_total;
    return out;
  }

  /** Maximum over the earlier ranks (0 before the first; inputs must be ≥ 0). */
  __device__ double exclusive_max(double v, double& carry) {
    double out, chunk_max;
    Scan(storage_).ExclusiveScan(v, out, 0.0, MaxOp(), chunk_max);
    __syncthreads();
    out = out > carry ? out : carry;
    carry = chunk_max > carry ? chunk_max : carry;
    return out;
  }

 private:
  Storage& storage_;
};

}  // namespace ranksort
