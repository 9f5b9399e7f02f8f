// Status codes to messages, and the per-thread "last error" that ranksort_last_error_message returns.
#pragma once

#include <stdint.h>

#include <string>

namespace ranksort {

/** The op name used in messages: RankSortLoss, APLoss or ALRPLoss (as the CPU kernels name them). */
const char* loss_name(int loss_kind);

/** Record `message` as this thread's last error and return `status` (RANKSORT_OK clears it). */
int fail(int status, const std::string& message);

/** This thread's last error message ("" after a successful call). */
const char* last_error_c_str();

/** The message for a data error found at `index` (see ranksort_report for what index/value mean). */
std::string data_error_message(int loss_kind, int status, int64_t index, double value);

/** Validation of the scalar arguments every entry point takes; RANKSORT_OK or a recorded error. */
int check_common_arguments(int loss_kind, int64_t n, double delta, double eps);

}  // namespace ranksort
