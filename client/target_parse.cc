#include "target_parse.h"

#include <cmath>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace prune::client {

absl::StatusOr<prune::v1::Target> ParseTarget(absl::string_view text) {
  const size_t eq = text.find('=');
  if (eq == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("target \"", text, "\" must look like flops=0.5, params=0.5 or latency=0.5"));
  }
  const std::string kind = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text.substr(0, eq)));
  const absl::string_view ratio_text = absl::StripAsciiWhitespace(text.substr(eq + 1));

  prune::v1::Target target;
  if (kind == "flops" || kind == "macs") {
    target.set_kind(prune::v1::Target::FLOPS);
  } else if (kind == "params") {
    target.set_kind(prune::v1::Target::PARAMS);
  } else if (kind == "latency") {
    target.set_kind(prune::v1::Target::LATENCY);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown target kind \"", kind, "\" (supported: flops, params, latency)"));
  }
  double ratio = 0;
  if (!absl::SimpleAtod(ratio_text, &ratio) || !std::isfinite(ratio)) {
    return absl::InvalidArgumentError(
        absl::StrCat("target ratio \"", ratio_text, "\" is not a number"));
  }
  if (ratio <= 0 || ratio >= 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target ratio ", ratio_text, " must be in (0, 1): the fraction of the cost to keep"));
  }
  target.set_ratio(ratio);
  return target;
}

std::string FormatTarget(const prune::v1::Target& target) {
  switch (target.kind()) {
    case prune::v1::Target::FLOPS:
      return absl::StrCat("flops=", target.ratio());
    case prune::v1::Target::PARAMS:
      return absl::StrCat("params=", target.ratio());
    case prune::v1::Target::LATENCY:
      return absl::StrCat("latency=", target.ratio());
    default:
      return "-";
  }
}

}  // namespace prune::client
