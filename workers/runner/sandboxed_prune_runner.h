// Runs each job's engine in a child process (prune-job-child) under the limits
// of SandboxLimits: the tenant's model can exhaust memory, spin, crash
// LibTorch or try the network, and the worker, the host and the other jobs
// are untouched. The worker keeps the lease, heartbeats, cancellation and
// result writing (JobExecutor); this runner turns how the child ended into
// the job's status (JOB_MEMORY_LIMIT_EXCEEDED, MODEL_CRASHED,
// JOB_TIME_LIMIT_EXCEEDED, JOB_OUTPUT_LIMIT_EXCEEDED) and adds the child's
// peak memory and CPU time to the report.
#pragma once

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "common/metrics/service_metrics.h"
#include "workers/runner/prune_runner.h"
#include "workers/runner/sandboxed_process.h"

namespace prune::worker {

struct SandboxOptions {
  std::string child_path;  // absolute path of prune-job-child
  SandboxLimits limits;
  // After a cancel (SIGTERM) the child has this long to stop before SIGKILL.
  absl::Duration kill_grace = absl::Seconds(5);
};

// How the child ended, and what it said, as the job's status. Pure: unit
// tested with made-up endings.
struct ChildRun {
  ChildExit exit;
  bool stopped_by_worker = false;       // cancel, time limit or shutdown
  std::optional<engine::Status> result;  // the child's result message, if any
};
engine::Status ClassifyChildRun(const ChildRun& run, const SandboxLimits& limits);

// True for the messages LibTorch, the C++ runtime and jemalloc give when an
// allocation is refused.
bool IsOutOfMemoryMessage(const std::string& message);

// The per-job memory limit when the operator gives none: 80 % of the memory
// this worker may use (its cgroup's limit, else the machine's RAM).
int64_t DefaultJobMemoryLimit();

class SandboxedPruneRunner : public PruneRunner {
 public:
  // `metrics` may be null; else it gets each child's peak memory and CPU time.
  SandboxedPruneRunner(SandboxOptions options, metrics::WorkerMetrics* metrics = nullptr)
      : options_(std::move(options)), metrics_(metrics) {}

  engine::Status Run(const engine::JobSpec& spec,
                     const std::function<void(const engine::Progress&)>& on_progress,
                     const engine::CancelToken& cancel, engine::JobOutcome* outcome) override;

 private:
  SandboxOptions options_;
  metrics::WorkerMetrics* metrics_;
};

}  // namespace prune::worker
