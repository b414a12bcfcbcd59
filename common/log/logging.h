// spdlog set-up shared by pruned and prune-worker: human-readable lines, or
// one JSON object per line whose message is escaped properly and which carries
// the job the logging thread works on as separate fields.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <spdlog/formatter.h>

namespace prune::log {

// Installs the default logger (stderr). component: "server", "worker", ...
void ConfigureLogging(const std::string& component, bool json);
// The formatter ConfigureLogging installs; for other sinks and for tests.
std::unique_ptr<spdlog::formatter> MakeLogFormatter(const std::string& component, bool json);

// What the current thread works on. Log lines written while a scope is alive
// get "job", "tenant" and "attempt" fields (JSON) or job=... suffixes (text),
// so one job's lines can be found across workers with a field filter.
class ScopedJobContext {
 public:
  ScopedJobContext(std::string job_id, std::string tenant, int32_t attempt);
  ~ScopedJobContext();
  ScopedJobContext(const ScopedJobContext&) = delete;
  ScopedJobContext& operator=(const ScopedJobContext&) = delete;

 private:
  bool previous_set_;
  std::string previous_job_, previous_tenant_;
  int32_t previous_attempt_;
};

}  // namespace prune::log
