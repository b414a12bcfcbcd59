#pragma once

#include <cstdint>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace prune::client {

// Parses an example input shape such as "1,1,28,28" (optionally in brackets,
// spaces allowed) into positive dimensions, batch first.
absl::StatusOr<std::vector<int64_t>> ParseShape(absl::string_view text);

// "1,1,28,28".
std::string FormatShape(const std::vector<int64_t>& dims);

}  // namespace prune::client
