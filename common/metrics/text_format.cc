#include "common/metrics/text_format.h"

#include <charconv>
#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace prune::metrics {
namespace {

absl::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Appends `{a="x",b="y"}` (or nothing without labels); `extra_name` adds one
// more label, used for a histogram's `le`.
void AppendLabels(std::string* out, const std::vector<std::string>& names,
                  const LabelValues& values, absl::string_view extra_name = {},
                  absl::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out->push_back('{');
  bool first = true;
  const auto append_one = [&](absl::string_view name, absl::string_view value) {
    if (!first) out->push_back(',');
    first = false;
    absl::StrAppend(out, name, "=\"", EscapeLabelValue(value), "\"");
  };
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) append_one(names[i], values[i]);
  if (!extra_name.empty()) append_one(extra_name, extra_value);
  out->push_back('}');
}

void AppendSampleLine(std::string* out, absl::string_view name,
                      const std::vector<std::string>& label_names, const LabelValues& values,
                      double value, absl::string_view extra_name = {},
                      absl::string_view extra_value = {}) {
  out->append(name.data(), name.size());
  AppendLabels(out, label_names, values, extra_name, extra_value);
  absl::StrAppend(out, " ", FormatValue(value), "\n");
}

void AppendHistogram(std::string* out, const FamilySnapshot& family) {
  const std::string bucket = absl::StrCat(family.name, "_bucket");
  const std::string sum = absl::StrCat(family.name, "_sum");
  const std::string count = absl::StrCat(family.name, "_count");
  std::vector<std::string> le_values;
  le_values.reserve(family.upper_bounds.size() + 1);
  for (double bound : family.upper_bounds) le_values.push_back(FormatValue(bound));
  le_values.push_back("+Inf");
  for (const HistogramSample& sample : family.histograms) {
    const std::vector<std::uint64_t>& counts = sample.data.cumulative_counts;
    for (size_t i = 0; i < le_values.size() && i < counts.size(); ++i) {
      AppendSampleLine(out, bucket, family.label_names, sample.label_values,
                       static_cast<double>(counts[i]), "le", le_values[i]);
    }
    AppendSampleLine(out, sum, family.label_names, sample.label_values, sample.data.sum);
    AppendSampleLine(out, count, family.label_names, sample.label_values,
                     counts.empty() ? 0.0 : static_cast<double>(counts.back()));
  }
}

std::string Escape(absl::string_view text, bool escape_quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '"':
        out.append(escape_quote ? "\\\"" : "\"");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string EscapeHelp(absl::string_view help) { return Escape(help, /*escape_quote=*/false); }

std::string EscapeLabelValue(absl::string_view value) {
  return Escape(value, /*escape_quote=*/true);
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Exactly representable integers print as integers: counters read "12", not
  // "1.2e+01". 2^53 bounds the range where every integer is exact.
  constexpr double kExactIntegerLimit = 9007199254740992.0;
  if (value == std::floor(value) && std::fabs(value) < kExactIntegerLimit) {
    return absl::StrCat(static_cast<std::int64_t>(value));
  }
  char buffer[64];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

std::string FormatText(const std::vector<FamilySnapshot>& families) {
  std::string out;
  for (const FamilySnapshot& family : families) {
    absl::StrAppend(&out, "# HELP ", family.name, " ", EscapeHelp(family.help), "\n");
    absl::StrAppend(&out, "# TYPE ", family.name, " ", TypeName(family.type), "\n");
    if (family.type == MetricType::kHistogram) {
      AppendHistogram(&out, family);
      continue;
    }
    for (const Sample& sample : family.samples) {
      AppendSampleLine(&out, family.name, family.label_names, sample.label_values, sample.value);
    }
  }
  return out;
}

std::string FormatText(const Registry& registry) { return FormatText(registry.Collect()); }

}  // namespace prune::metrics
