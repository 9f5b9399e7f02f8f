// Messages worded like the TypeScript CPU kernels' RankSortInputError, so every backend reports a
// bad input the same way; thread-local so concurrent callers do not read each other's errors.
#include "error_messages.h"

#include <math.h>
#include <stdio.h>

#include "ranksort_cuda.h"

namespace ranksort {

namespace {
thread_local std::string last_error;

std::string format_number(double v) {
  if (isnan(v)) return "NaN";
  if (isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
}  // namespace

const char* loss_name(int loss_kind) {
  switch (loss_kind) {
    case RANKSORT_LOSS_AP: return "APLoss";
    case RANKSORT_LOSS_ALRP: return "ALRPLoss";
    default: return "RankSortLoss";
  }
}

const char* last_error_c_str() { return last_error.c_str(); }

int fail(int status, const std::string& message) {
  last_error = status == RANKSORT_OK ? std::string() : message;
  return status;
}

std::string data_error_message(int loss_kind, int status, int64_t index, double value) {
  const std::string loss = loss_name(loss_kind);
  const std::string i = std::to_string(index);
  switch (status) {
    case RANKSORT_ERR_NAN_TARGET:
      return loss + ": targets[" + i + "] is NaN; mark ignored entries with -1";
    case RANKSORT_ERR_NONFINITE_LOGIT:
      return loss + ": logits[" + i + "] = " + format_number(value) +
             " is not finite; only ignored entries (target < 0) may hold non-finite logits";
    case RANKSORT_ERR_BAD_POSITIVE_TARGET:
      return loss_kind == RANKSORT_LOSS_RANK_SORT
                 ? loss + ": targets[" + i + "] = Infinity; positive targets must be finite (they are the sorting targets, e.g. IoUs)"
                 : loss + ": targets[" + i + "] = " + format_number(value) +
                       "; expected 1 (positive), 0 (negative) or a negative value such as -1 (ignored)";
    case RANKSORT_ERR_REGRESSION_LENGTH:
      return loss + ": regression_losses has " + format_number(value) + " elements but there are " + i +
             " positives (targets == 1); give one per positive, in flattened order";
    case RANKSORT_ERR_NONFINITE_REGRESSION:
      return loss + ": regression_losses[" + i + "] = " + format_number(value) + " is not finite";
    case RANKSORT_ERR_TOO_MANY_POSITIVES:
      return loss + ": " + i + " positives exceed the workspace's capacity of " + format_number(value) +
             " (size the workspace with a larger max_positives)";
    default:
      return loss + ": " + ranksort_status_string(status);
  }
}

int check_common_arguments(int loss_kind, int64_t n, double delta, double eps) {
  const std::string loss = loss_name(loss_kind);
  if (n <= 0) return fail(RANKSORT_ERR_INVALID_ARGUMENT, loss + ": logits is empty (expected at least one element)");
  if (n >= (int64_t{1} << 31)) {
    return fail(RANKSORT_ERR_INVALID_ARGUMENT, loss + ": " + std::to_string(n) + " elements; at most 2^31 - 1 are supported");
  }
  if (!isfinite(delta) || delta < 0) {
    return fail(RANKSORT_ERR_INVALID_ARGUMENT, loss + ": delta must be a finite number >= 0, got " + format_number(delta));
  }
  if (!isfinite(eps) || eps < 0) {
    return fail(RANKSORT_ERR_INVALID_ARGUMENT, loss + ": eps must be a finite number >= 0, got " + format_number(eps));
  }
  return RANKSORT_OK;
}

}  // namespace ranksort

extern "C" {

const char* ranksort_status_string(int status) {
  switch (status) {
    case RANKSORT_OK: return "ok";
    case RANKSORT_ERR_NAN_TARGET: return "NaN target";
    case RANKSORT_ERR_NONFINITE_LOGIT: return "non-finite logit";
    case RANKSORT_ERR_BAD_POSITIVE_TARGET: return "invalid positive target";
    case RANKSORT_ERR_REGRESSION_LENGTH: return "regression_losses length differs from the number of positives";
    case RANKSORT_ERR_NONFINITE_REGRESSION: return "non-finite regression loss";
    case RANKSORT_ERR_TOO_MANY_POSITIVES: return "more positives than the workspace capacity";
    case RANKSORT_ERR_INVALID_ARGUMENT: return "invalid argument";
    case RANKSORT_ERR_WORKSPACE_TOO_SMALL: return "workspace too small";
    case RANKSORT_ERR_CUDA: return "CUDA error";
    case RANKSORT_ERR_NO_DEVICE: return "no CUDA device";
    default: return "unknown status";
  }
}

const char* ranksort_last_error_message(void) { return ranksort::last_error_c_str(); }

int ranksort_report_status(int loss_kind, const ranksort_report* host_report) {
  if (!host_report) return ranksort::fail(RANKSORT_ERR_INVALID_ARGUMENT, "ranksort_report_status: report is NULL");
  const int status = host_report->status;
  if (status == RANKSORT_OK) return ranksort::fail(RANKSORT_OK, "");
  return ranksort::fail(status, ranksort::data_error_message(loss_kind, status, host_report->index, host_report->value));
}

}  // extern "C"
