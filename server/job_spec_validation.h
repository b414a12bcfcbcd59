// Checks the caller-set fields of a CreateJob request before anything touches
// the database. Pure: model and dataset references are resolved afterwards.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/db/records.h"
#include "prune/v1/resources.pb.h"

namespace prune::server {

inline constexpr int32_t kDefaultPriority = 100;
inline constexpr int32_t kMaxPriority = 1000;
inline constexpr int32_t kMaxFinetuneEpochs = 100;
inline constexpr size_t kMaxRequestIdBytes = 128;
inline constexpr int64_t kDefaultJobTimeLimitSeconds = 24 * 3600;
inline constexpr int64_t kMaxJobTimeLimitSeconds = 7 * 24 * 3600;
inline constexpr int32_t kMaxRoundTo = 256;
// Largest target.latency_batch_size (a latency table times every layer at it).
inline constexpr int32_t kMaxLatencyBatchSize = 1024;
inline constexpr int32_t kMaxMinChannels = 4096;

struct ValidatedJobSpec {
  std::string model_ref;    // resource name, id or display name
  std::string dataset_ref;  // empty: no dataset
  // Everything but model_id / dataset_id, defaults applied.
  db::JobParameters params;
};

// INVALID_ARGUMENT with reasons MODEL_REQUIRED, TARGET_OUT_OF_RANGE,
// TARGET_KIND_INVALID, STRATEGY_NOT_SUPPORTED, FINETUNE_EPOCHS_OUT_OF_RANGE,
// FINETUNE_LEARNING_RATE_INVALID, PRIORITY_OUT_OF_RANGE, IMPORTANCE_INVALID,
// IMPORTANCE_NEEDS_DATASET, SEARCH_BUDGET_INVALID, TIME_LIMIT_OUT_OF_RANGE, ROUND_TO_OUT_OF_RANGE,
// MIN_CHANNELS_OUT_OF_RANGE, GROUP_REDUCTION_INVALID, NORMALIZATION_INVALID,
// DISTILLATION_INVALID, DISTILLATION_NEEDS_FINETUNE.
absl::StatusOr<ValidatedJobSpec> ValidateJobSpec(const v1::Job& job);

// INVALID_ARGUMENT "REQUEST_ID_INVALID" when longer than kMaxRequestIdBytes
// or with a control character (NUL would cut the stored key short).
absl::Status ValidateRequestId(const std::string& request_id);

}  // namespace prune::server
