#pragma once

#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "prune/v1/resources.pb.h"

namespace prune::client {

// "uniform", "amc", "metapruning", ... (case-insensitive).
absl::StatusOr<prune::v1::Strategy> ParseStrategy(absl::string_view text);

// "queued", "running", "succeeded", "failed", "cancelled" (case-insensitive).
absl::StatusOr<prune::v1::Job::State> ParseJobState(absl::string_view text);

bool IsTerminal(prune::v1::Job::State state);

}  // namespace prune::client
