#include "enum_parse.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace prune::client {

absl::StatusOr<prune::v1::Strategy> ParseStrategy(absl::string_view text) {
  prune::v1::Strategy strategy = prune::v1::STRATEGY_UNSPECIFIED;
  if (!prune::v1::Strategy_Parse(absl::AsciiStrToUpper(text), &strategy) ||
      strategy == prune::v1::STRATEGY_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown strategy \"", text, "\" (uniform, global, amc, metapruning, autoslim)"));
  }
  return strategy;
}

absl::StatusOr<prune::v1::Job::State> ParseJobState(absl::string_view text) {
  prune::v1::Job::State state = prune::v1::Job::STATE_UNSPECIFIED;
  const std::string upper = absl::AsciiStrToUpper(text);
  // Accept the American spelling as well.
  const std::string canonical = upper == "CANCELED" ? "CANCELLED" : upper;
  if (!prune::v1::Job::State_Parse(canonical, &state) ||
      state == prune::v1::Job::STATE_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown job state \"", text, "\" (queued, running, succeeded, failed, cancelled)"));
  }
  return state;
}

bool IsTerminal(prune::v1::Job::State state) {
  return state == prune::v1::Job::SUCCEEDED || state == prune::v1::Job::FAILED ||
         state == prune::v1::Job::CANCELLED;
}

}  // namespace prune::client
