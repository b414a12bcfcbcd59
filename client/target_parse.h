#pragma once

#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "prune/v1/resources.pb.h"

namespace prune::client {

// Parses a compression target such as "flops=0.5" or "params=0.25": the kind
// (case-insensitive) and the fraction of the original cost to keep, in (0, 1).
absl::StatusOr<prune::v1::Target> ParseTarget(absl::string_view text);

// The inverse of ParseTarget, for display: "flops=0.5".
std::string FormatTarget(const prune::v1::Target& target);

}  // namespace prune::client
