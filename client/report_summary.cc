#include "report_summary.h"

#include <nlohmann/json.hpp>

#include <optional>

#include "absl/strings/str_format.h"
#include "output_format.h"

namespace prune::client {
namespace {

std::optional<double> Metric(const nlohmann::json& report, const char* side, const char* key) {
  if (!report.contains(side) || !report[side].is_object()) return std::nullopt;
  const nlohmann::json& object = report[side];
  if (!object.contains(key) || !object[key].is_number()) return std::nullopt;
  return object[key].get<double>();
}

struct MetricRow {
  const char* key;
  // Counts change relatively ("-50.0%"); accuracy by points ("-0.40").
  bool relative;
  std::string (*format)(double);
};

std::string FormatPlain(double value) { return absl::StrFormat("%.4g", value); }

}  // namespace

bool PrintReportSummary(const std::string& report_json, std::ostream& out) {
  const nlohmann::json report = nlohmann::json::parse(report_json, nullptr, false);
  if (report.is_discarded() || !report.is_object() ||
      (!report.contains("before") && !report.contains("after"))) {
    return false;
  }
  static const MetricRow kRows[] = {{"macs", true, FormatCount},
                                    {"params", true, FormatCount},
                                    {"top1", false, FormatPlain},
                                    {"latency_ms", true, FormatPlain},
                                    {"optimized_latency_ms", true, FormatPlain}};
  Table table({"METRIC", "BEFORE", "AFTER", "CHANGE"});
  for (const MetricRow& row : kRows) {
    const std::optional<double> before = Metric(report, "before", row.key);
    const std::optional<double> after = Metric(report, "after", row.key);
    std::string change = "-";
    if (before && after) {
      if (!row.relative) {
        change = absl::StrFormat("%+.4g", *after - *before);
      } else if (*before != 0) {
        change = absl::StrFormat("%+.1f%%", (*after - *before) / *before * 100);
      }
    }
    table.AddRow(
        {row.key, before ? row.format(*before) : "-", after ? row.format(*after) : "-", change});
  }
  table.Print(out);
  // Why the deployed (frozen + optimize_for_inference) latency is missing.
  if (report.contains("optimized_latency_error") && report["optimized_latency_error"].is_string()) {
    out << "optimized latency not measured: "
        << report["optimized_latency_error"].get<std::string>() << "\n";
  }
  // Latency targets: how close the engine's latency table came to the real thing.
  if (report.contains("latency_prediction") && report["latency_prediction"].is_object()) {
    const nlohmann::json& p = report["latency_prediction"];
    auto ratio = [&p](const char* key) {
      return p.contains(key) && p[key].is_number() ? absl::StrFormat("%.3f", p[key].get<double>())
                                                   : std::string("-");
    };
    out << "latency ratio: predicted " << ratio("predicted_ratio") << ", measured "
        << ratio("measured_ratio") << "\n";
  }
  return true;
}

}  // namespace prune::client
