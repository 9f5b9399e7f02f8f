// The synchronous host-pointer conveniences (ranksort_*_host), the version and the device count:
// allocate on the current device, copy in, run the device path, copy out, and turn the device
// report into a status and message. The positives are counted here on the host (the data is
// already here), so the workspace holds exactly as many as the case has.
#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "error_messages.h"
#include "ranksort_cuda.h"
#include "step_math.h"

namespace ranksort {
namespace {

int cuda_status(int kind, cudaError_t e, const char* what) {
  cudaGetLastError();
  const int status = (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) ? RANKSORT_ERR_NO_DEVICE : RANKSORT_ERR_CUDA;
  return fail(status, std::string(loss_name(kind)) + ": " + what + ": " + cudaGetErrorString(e));
}

/** Device allocations of one call, freed when the call returns (whatever the outcome). */
class DeviceArena {
 public:
  ~DeviceArena() {
    for (void* p : blocks_) cudaFree(p);
  }
  cudaError_t alloc(void** out, size_t bytes) {
    *out = nullptr;
    if (bytes == 0) return cudaSuccess;
    cudaError_t e = cudaMalloc(out, bytes);
    if (e == cudaSuccess) blocks_.push_back(*out);
    return e;
  }
  template <class T>
  cudaError_t upload(const T* host, size_t count, T** device) {
    void* p = nullptr;
    cudaError_t e = alloc(&p, sizeof(T) * count);
    if (e == cudaSuccess && count) e = cudaMemcpy(p, host, sizeof(T) * count, cudaMemcpyHostToDevice);
    *device = static_cast<T*>(p);
    return e;
  }
  template <class T>
  cudaError_t output(size_t count, T** device) {
    void* p = nullptr;
    cudaError_t e = alloc(&p, sizeof(T) * count);
    *device = static_cast<T*>(p);
    return e;
  }

 private:
  std::vector<void*> blocks_;
};

int64_t count_positives(const float* t, int64_t n, PositiveRule rule) {
  int64_t count = 0;
  for (int64_t i = 0; i < n; i++) count += is_positive_target(t[i], rule);
  return count;
}

int require_device(int kind) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) return cuda_status(kind, e, "no usable CUDA device");
  if (count == 0) return fail(RANKSORT_ERR_NO_DEVICE, std::string(loss_name(kind)) + ": no CUDA device");
  return RANKSORT_OK;
}

/** Common start of a host call: arguments, device, inputs on the device, workspace. */
struct HostCall {
  DeviceArena arena;
  float *x = nullptr, *t = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  ranksort_report* report = nullptr;
  int64_t n = 0;
  int64_t capacity = 1;

  int begin(int kind, const float* hx, const float* ht, int64_t count, double delta, double eps, PositiveRule rule) {
    if (int s = check_common_arguments(kind, count, delta, eps)) return s;
    if (!hx || !ht) return fail(RANKSORT_ERR_INVALID_ARGUMENT, std::string(loss_name(kind)) + ": logits and targets must not be NULL");
    if (int s = require_device(kind)) return s;
    n = count;
    const int64_t positives = count_positives(ht, n, rule);
    capacity = positives > 0 ? positives : 1;
    if (int s = ranksort_workspace_size(n, capacity, &workspace_bytes)) return s;
    cudaError_t e = arena.upload(hx, static_cast<size_t>(n), &x);
    if (e == cudaSuccess) e = arena.upload(ht, static_cast<size_t>(n), &t);
    if (e == cudaSuccess) e = arena.alloc(&workspace, workspace_bytes);
    if (e == cudaSuccess) e = arena.output(1, &report);
    return e == cudaSuccess ? RANKSORT_OK : cuda_status(kind, e, "allocating and copying the inputs");
  }

  /** Wait for the device, then read the report: its status and message become the call's. */
  int finish(int kind, int64_t* counts) {
    ranksort_report host_report{};
    cudaError_t e = cudaMemcpy(&host_report, report, sizeof host_report, cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) return cuda_status(kind, e, "running the kernels");
    if (counts) {
      counts[0] = host_report.num_positives;
      counts[1] = host_report.num_relevant_negatives;
    }
    return ranksort_report_status(kind, &host_report);
  }
};

template <class T>
int download(int kind, T* host, const T* device, int64_t count) {
  if (!host || !device || count <= 0) return RANKSORT_OK;
  cudaError_t e = cudaMemcpy(host, device, sizeof(T) * static_cast<size_t>(count), cudaMemcpyDeviceToHost);
  return e == cudaSuccess ? RANKSORT_OK : cuda_status(kind, e, "copying the results back");
}

}  // namespace
}  // namespace ranksort

using namespace ranksort;

extern "C" const char* ranksort_cuda_version(void) {
  static const std::string version = "ranksort-cuda 0.1.0 (built with CUDA runtime " + std::to_string(CUDART_VERSION / 1000) + "." +
                                     std::to_string(CUDART_VERSION % 1000 / 10) + ")";
  return version.c_str();
}

extern "C" int ranksort_cuda_device_count(void) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    fail(RANKSORT_ERR_NO_DEVICE, std::string("no usable CUDA device: ") + cudaGetErrorString(e));
    return 0;
  }
  if (count == 0) fail(RANKSORT_ERR_NO_DEVICE, "no CUDA device");
  else fail(RANKSORT_OK, "");
  return count;
}

extern "C" int ranksort_rank_sort_host(const float* logits, const float* targets, int64_t n, double delta, double eps, float* grad_ranking,
                                       float* grad_sorting, float* grad, float* losses, int64_t* counts) {
  const int kind = RANKSORT_LOSS_RANK_SORT;
  if (!losses) return fail(RANKSORT_ERR_INVALID_ARGUMENT, "RankSortLoss: losses must not be NULL");
  HostCall call;
  if (int s = call.begin(kind, logits, targets, n, delta, eps, PositiveRule::GreaterThanZero)) return s;
  float *d_gr = nullptr, *d_gs = nullptr, *d_g = nullptr, *d_losses = nullptr;
  cudaError_t e = call.arena.output(static_cast<size_t>(n), &d_gr);
  if (e == cudaSuccess) e = call.arena.output(static_cast<size_t>(n), &d_gs);
  if (e == cudaSuccess) e = call.arena.output(static_cast<size_t>(n), &d_g);
  if (e == cudaSuccess) e = call.arena.output(2, &d_losses);
  if (e != cudaSuccess) return cuda_status(kind, e, "allocating the outputs");
  if (int s = ranksort_rank_sort_device(call.x, call.t, n, delta, eps, call.capacity, d_gr, d_gs, d_g, d_losses, call.report,
                                        call.workspace, call.workspace_bytes, nullptr)) {
    return s;
  }
  if (int s = call.finish(kind, counts)) return s;
  for (auto [host, device] : {std::pair{grad_ranking, d_gr}, std::pair{grad_sorting, d_gs}, std::pair{grad, d_g}}) {
    if (int s = download(kind, host, device, n)) return s;
  }
  return download(kind, losses, d_losses, 2);
}

extern "C" int ranksort_ap_host(const float* logits, const float* targets, int64_t n, double delta, float* grad, float* loss,
                                int64_t* counts) {
  const int kind = RANKSORT_LOSS_AP;
  if (!grad || !loss) return fail(RANKSORT_ERR_INVALID_ARGUMENT, "APLoss: grad and loss must not be NULL");
  HostCall call;
  if (int s = call.begin(kind, logits, targets, n, delta, 0.0, PositiveRule::ExactlyOne)) return s;
  float *d_g = nullptr, *d_loss = nullptr;
  cudaError_t e = call.arena.output(static_cast<size_t>(n), &d_g);
  if (e == cudaSuccess) e = call.arena.output(1, &d_loss);
  if (e != cudaSuccess) return cuda_status(kind, e, "allocating the outputs");
  if (int s = ranksort_ap_device(call.x, call.t, n, delta, call.capacity, d_g, d_loss, call.report, call.workspace, call.workspace_bytes,
                                 nullptr)) {
    return s;
  }
  if (int s = call.finish(kind, counts)) return s;
  if (int s = download(kind, grad, d_g, n)) return s;
  return download(kind, loss, d_loss, 1);
}

extern "C" int ranksort_alrp_host(const float* logits, const float* targets, int64_t n, const float* regression_losses,
                                  int64_t num_regression, double delta, double eps, float* grad, float* loss, float* rank, int64_t* order,
                                  int64_t* counts) {
  const int kind = RANKSORT_LOSS_ALRP;
  if (!grad || !loss || num_regression < 0 || (num_regression > 0 && !regression_losses)) {
    return fail(RANKSORT_ERR_INVALID_ARGUMENT, "ALRPLoss: grad, loss and regression_losses must not be NULL");
  }
  HostCall call;
  if (int s = call.begin(kind, logits, targets, n, delta, eps, PositiveRule::ExactlyOne)) return s;
  const size_t m = static_cast<size_t>(num_regression);
  float *d_reg = nullptr, *d_g = nullptr, *d_loss = nullptr, *d_rank = nullptr;
  int64_t* d_order = nullptr;
  cudaError_t e = call.arena.upload(regression_losses, m, &d_reg);
  if (e == cudaSuccess) e = call.arena.output(static_cast<size_t>(n), &d_g);
  if (e == cudaSuccess) e = call.arena.output(1, &d_loss);
  if (e == cudaSuccess) e = call.arena.output(m, &d_rank);
  if (e == cudaSuccess) e = call.arena.output(m, &d_order);
  if (e != cudaSuccess) return cuda_status(kind, e, "allocating the outputs");
  if (int s = ranksort_alrp_device(call.x, call.t, n, d_reg, num_regression, delta, eps, call.capacity, d_g, d_loss, d_rank, d_order,
                                   call.report, call.workspace, call.workspace_bytes, nullptr)) {
    return s;
  }
  if (int s = call.finish(kind, counts)) return s;
  if (int s = download(kind, grad, d_g, n)) return s;
  if (int s = download(kind, rank, static_cast<const float*>(d_rank), num_regression)) return s;
  if (int s = download(kind, order, static_cast<const int64_t*>(d_order), num_regression)) return s;
  return download(kind, loss, d_loss, 1);
}
