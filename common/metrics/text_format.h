// Prometheus text exposition format 0.0.4.
// https://prometheus.io/docs/instrumenting/exposition_formats/
#ifndef PRUNE_COMMON_METRICS_TEXT_FORMAT_H_
#define PRUNE_COMMON_METRICS_TEXT_FORMAT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/metrics/registry.h"

namespace prune::metrics {

inline constexpr absl::string_view kTextFormatContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// Renders families in the order given (Registry::Collect sorts them by name and
// their children by label values).
std::string FormatText(const std::vector<FamilySnapshot>& families);

// FormatText(registry.Collect()).
std::string FormatText(const Registry& registry);

// A sample value as Prometheus parses it: "+Inf", "-Inf", "NaN", integers
// without exponent, otherwise the shortest text that round-trips.
std::string FormatValue(double value);

// `\` and newline escaped, as HELP lines need.
std::string EscapeHelp(absl::string_view help);

// `\`, `"` and newline escaped, as label values need.
std::string EscapeLabelValue(absl::string_view value);

}  // namespace prune::metrics

#endif  // PRUNE_COMMON_METRICS_TEXT_FORMAT_H_
