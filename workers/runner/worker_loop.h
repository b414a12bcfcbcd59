// The claim loop of one worker process: reap expired leases now and then,
// claim the next job, execute it, repeat; sleep on LISTEN/NOTIFY (with a poll
// timeout) when the queue is empty; survive database outages by retrying.
#pragma once

#include <atomic>
#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/db/job_queue.h"
#include "common/metrics/service_metrics.h"
#include "workers/runner/job_executor.h"
#include "workers/runner/worker_options.h"

namespace prune::worker {

class WorkerLoop {
 public:
  // `metrics` (may be null, else must outlive the loop) gets, per claim,
  // prune_job_attempts_total, prune_job_queue_wait_seconds (first attempts),
  // prune_worker_busy and prune_job_duration_seconds{outcome}, and the
  // reaper's prune_job_rescues_total.
  WorkerLoop(db::JobQueue* queue, JobExecutor* executor, WorkerOptions options,
             std::function<absl::Time()> clock, metrics::WorkerMetrics* metrics = nullptr);

  // Returns when Stop() was called (after releasing any running job) or after
  // options.max_jobs jobs.
  absl::Status Run();
  // Thread-safe: stop claiming, drain the running job, return from Run().
  void Stop();

 private:
  void MaybeReap();

  db::JobQueue* queue_;
  JobExecutor* executor_;
  WorkerOptions options_;
  std::function<absl::Time()> clock_;
  metrics::WorkerMetrics* metrics_;
  std::atomic<bool> stopping_{false};
  absl::Time last_reap_ = absl::InfinitePast();
};

}  // namespace prune::worker
