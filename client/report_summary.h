#pragma once

#include <ostream>
#include <string>

namespace prune::client {

// Prints the before/after comparison of a job report: rows macs, params,
// top1, latency_ms and optimized_latency_ms of its "before" and "after"
// objects, with the change, and why the optimized latency is missing.
// Metrics missing from the report show "-". Returns false (printing nothing)
// when the report is not JSON or has neither object.
bool PrintReportSummary(const std::string& report_json, std::ostream& out);

}  // namespace prune::client
