#pragma once

#include <ostream>
#include <string>

namespace prune::client {

// Prints the before/after comparison of a job report: rows macs, params,
// top1 and latency_ms of its "before" and "after" objects, with the change.
// Metrics missing from the report show "-". Returns false (printing nothing)
// when the report is not JSON or has neither object.
bool PrintReportSummary(const std::string& report_json, std::ostream& out);

}  // namespace prune::client
