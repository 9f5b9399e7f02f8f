/*
 * ranksort_cuda.h — C ABI of libranksort_cuda.so: Rank & Sort, AP and aLRP losses (forward and the
 * identity-update gradient) on CUDA, with exactly the semantics of the TypeScript CPU kernels
 * (kernels/cpu). Plain C: every FFI (bun:ffi, Deno.dlopen, koffi, ctypes) can bind it.
 *
 * Three families of entry points:
 *   - *_device: pointers into device memory, stream-ordered on `stream`, never synchronising. Data
 *     errors (NaN target, non-finite logit, ...) are written to a ranksort_report in device memory;
 *     the return value only covers what the host can see at launch time (arguments, workspace size,
 *     launch errors).
 *   - *_host: host pointers; copy in, run on the current device, copy out, synchronise; the return
 *     value covers everything and ranksort_last_error_message() says what went wrong.
 *   - *_cpu: the same computation on the CPU (a sequential C++ port of the same algorithm; what the
 *     ONNX Runtime CPU execution-provider kernels run). Needs no GPU.
 *
 * Conventions: float32 storage, float64 accumulation. Element counts are int64_t but must be below
 * 2^31. All outputs are fully written (zeros where the loss gives no gradient). A case without any
 * positive gives all-zero outputs and zero losses, not an error.
 */
#ifndef RANKSORT_CUDA_H
#define RANKSORT_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define RANKSORT_API __declspec(dllexport)
#else
#define RANKSORT_API __attribute__((visibility("default")))
#endif

/* cudaStream_t without including the CUDA headers: the same pointer type. NULL = legacy default stream. */
typedef struct CUstream_st* ranksort_stream;

/* Status codes. 1–6: errors in the data (they name an element in the report / message). */
enum ranksort_status {
  RANKSORT_OK = 0,
  RANKSORT_ERR_NAN_TARGET = 1,            /* targets[index] is NaN */
  RANKSORT_ERR_NONFINITE_LOGIT = 2,       /* logits[index] is ±inf/NaN on a positive or negative */
  RANKSORT_ERR_BAD_POSITIVE_TARGET = 3,   /* AP/aLRP: target not 0, 1 or < 0; RankSort: +inf */
  RANKSORT_ERR_REGRESSION_LENGTH = 4,     /* aLRP: regression_losses length != positives (index = positives) */
  RANKSORT_ERR_NONFINITE_REGRESSION = 5,  /* aLRP: regression_losses[index] is not finite */
  RANKSORT_ERR_TOO_MANY_POSITIVES = 6,    /* more positives (index) than the workspace was sized for */
  RANKSORT_ERR_INVALID_ARGUMENT = 10,     /* null pointer, n <= 0 or >= 2^31, bad delta/eps */
  RANKSORT_ERR_WORKSPACE_TOO_SMALL = 11,
  RANKSORT_ERR_CUDA = 12,                 /* a CUDA runtime error (message has cudaGetErrorString) */
  RANKSORT_ERR_NO_DEVICE = 13             /* no CUDA device or no usable driver */
};

/* Which loss a report or message is about (names in messages: RankSortLoss, APLoss, ALRPLoss). */
enum ranksort_loss_kind { RANKSORT_LOSS_RANK_SORT = 0, RANKSORT_LOSS_AP = 1, RANKSORT_LOSS_ALRP = 2 };

/* What a *_device call found in the data; written to device memory at the end of the call. */
typedef struct ranksort_report {
  int32_t status;                 /* RANKSORT_OK or a data error code (1–6) */
  int32_t reserved;
  int64_t index;                  /* the element (positive ordinal for regression errors) named; -1 if none */
  double value;                   /* the offending value (target, logit, regression loss or count) */
  int64_t num_positives;
  int64_t num_relevant_negatives;
} ranksort_report;

/* ---- library and device ---- */

/* "ranksort-cuda <version> (CUDA runtime <x.y>)". Never fails. */
RANKSORT_API const char* ranksort_cuda_version(void);
/* Number of usable CUDA devices; 0 (and a message in ranksort_last_error_message) without a GPU or
 * driver. Never crashes. */
RANKSORT_API int ranksort_cuda_device_count(void);
/* Short name of a status code. */
RANKSORT_API const char* ranksort_status_string(int status);
/* Full message of the last failed call on this thread (names the loss, tensor and index). */
RANKSORT_API const char* ranksort_last_error_message(void);
/* Turn a report copied back to the host into a status and message (also ranksort_last_error_message). */
RANKSORT_API int ranksort_report_status(int loss_kind, const ranksort_report* host_report);

/* ---- device-pointer path (stream-ordered, no synchronisation) ---- */

/* Workspace bytes for n elements and up to max_positives positives (<= 0: min(n, 65536)).
 * Sized without looking at the data; needs a CUDA device (the sort/compaction sizes are queried). */
RANKSORT_API int ranksort_workspace_size(int64_t n, int64_t max_positives, size_t* bytes);

/* RankSort. Outputs (device, length n): grad_ranking, grad_sorting, and grad = their sum (may be NULL).
 * losses: device float[2] = {ranking_loss, sorting_loss}. report: device ranksort_report (may be NULL). */
RANKSORT_API int ranksort_rank_sort_device(const float* logits, const float* targets, int64_t n, double delta, double eps,
                                           int64_t max_positives, float* grad_ranking, float* grad_sorting, float* grad,
                                           float* losses, ranksort_report* report, void* workspace, size_t workspace_bytes,
                                           ranksort_stream stream);

/* AP. grad: device float[n]; loss: device float[1]. */
RANKSORT_API int ranksort_ap_device(const float* logits, const float* targets, int64_t n, double delta, int64_t max_positives,
                                    float* grad, float* loss, ranksort_report* report, void* workspace, size_t workspace_bytes,
                                    ranksort_stream stream);

/* aLRP. regression_losses: device float[num_regression] (one per positive, flattened order; the call
 * reports RANKSORT_ERR_REGRESSION_LENGTH when that is not the number of positives). grad: float[n];
 * loss: float[1]; rank: float[num_regression] (flattened positive order; may be NULL);
 * order: int64[num_regression], the positives' ordinals in ascending logit, ties in flattened order (may be NULL). */
RANKSORT_API int ranksort_alrp_device(const float* logits, const float* targets, int64_t n, const float* regression_losses,
                                      int64_t num_regression, double delta, double eps, int64_t max_positives, float* grad,
                                      float* loss, float* rank, int64_t* order, ranksort_report* report, void* workspace,
                                      size_t workspace_bytes, ranksort_stream stream);

/* out[i] = weight_a[0]·a[i] + weight_b[0]·b[i] with the weights read on the device (b, weight_b may
 * be NULL): the *Grad ops' upstream scaling without reading the upstream gradient back to the host. */
RANKSORT_API int ranksort_weighted_sum_device(const float* a, const float* weight_a, const float* b, const float* weight_b,
                                              float* out, int64_t n, ranksort_stream stream);

/* ---- host-pointer conveniences (synchronous; counts: int64[2] = {positives, relevant negatives}, may be NULL) ---- */

RANKSORT_API int ranksort_rank_sort_host(const float* logits, const float* targets, int64_t n, double delta, double eps,
                                         float* grad_ranking, float* grad_sorting, float* grad, float* losses, int64_t* counts);
RANKSORT_API int ranksort_ap_host(const float* logits, const float* targets, int64_t n, double delta, float* grad, float* loss,
                                  int64_t* counts);
RANKSORT_API int ranksort_alrp_host(const float* logits, const float* targets, int64_t n, const float* regression_losses,
                                    int64_t num_regression, double delta, double eps, float* grad, float* loss, float* rank,
                                    int64_t* order, int64_t* counts);

/* ---- the same on the CPU (no GPU needed) ---- */

RANKSORT_API int ranksort_rank_sort_cpu(const float* logits, const float* targets, int64_t n, double delta, double eps,
                                        float* grad_ranking, float* grad_sorting, float* grad, float* losses, int64_t* counts);
RANKSORT_API int ranksort_ap_cpu(const float* logits, const float* targets, int64_t n, double delta, float* grad, float* loss,
                                 int64_t* counts);
RANKSORT_API int ranksort_alrp_cpu(const float* logits, const float* targets, int64_t n, const float* regression_losses,
                                   int64_t num_regression, double delta, double eps, float* grad, float* loss, float* rank,
                                   int64_t* order, int64_t* counts);

#ifdef __cplusplus
}
#endif

#endif /* RANKSORT_CUDA_H */
