// Runs one claimed job from its blobs to exactly one fenced final write:
// fetch model and dataset, run the engine under a kept lease, then store the
// artifacts and complete, fail, cancel or release the job.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/db/blob_store.h"
#include "common/db/job_queue.h"
#include "common/metrics/service_metrics.h"
#include "workers/runner/prune_runner.h"
#include "workers/runner/worker_options.h"

namespace prune::worker {

enum class JobEnd {
  kSucceeded,
  kFailed,     // failed for good, or sent back to the queue to retry
  kCancelled,  // the user cancelled it
  kReleased,   // the worker is shutting down; the job is queued again
  kLeaseLost,  // someone else owns it now; nothing was written
};
const char* JobEndName(JobEnd end);

// Whether the engine stage `stage` runs a top-1 accuracy evaluation of a
// model on the evaluation split, for a job with a dataset that fine-tunes
// `finetune_epochs` epochs: "measure_before" (the original model),
// "evaluate" (the pruned model) and "measure_after" (the fine-tuned model;
// only when finetune_epochs > 0, else the engine reuses the "evaluate"
// result). An evaluation is counted when its stage completes, i.e. when the
// engine reports the next stage; the measure_* stages also time the latency
// benchmark and the cost re-analysis that run in them.
// The "candidates" array of an engine report (written by a search strategy,
// see workers/engine/src/search/search_job.cc WriteCandidates) as rows for
// job_candidates: "keep" becomes widths. Empty when the report has none;
// entries without a non-negative integer "index" are skipped.
std::vector<db::CandidateRecord> ReportCandidates(const std::string& report_json);

bool IsEvaluationStage(const std::string& stage, bool has_dataset, int finetune_epochs);

class JobExecutor {
 public:
  // `metrics` (may be null, else must outlive the executor) gets the engine's
  // accuracy evaluations (prune_evaluations_total,
  // prune_evaluation_duration_seconds) and the final top-1 accuracy
  // (prune_best_accuracy); see EvaluationStage().
  JobExecutor(db::JobQueue* queue, db::BlobStore* blobs, PruneRunner* runner, WorkerOptions options,
              std::function<absl::Time()> clock, metrics::WorkerMetrics* metrics = nullptr);

  JobEnd Execute(const db::ClaimedJob& claimed);

  // Heartbeats and cancel polls go through `queue` (over its own connection
  // pool) instead of the main one, so that they never wait behind result
  // uploads or a pool exhausted by something else. Must outlive the executor.
  void UseHeartbeatQueue(db::JobQueue* queue) { heartbeat_queue_ = queue; }

  // Thread-safe. Stops the job being executed (if any) and releases it
  // instead of finishing it, so a graceful shutdown burns no attempt.
  void Drain();

 private:
  // What the threads around the engine learnt while it ran.
  struct RunSignals {
    bool cancel_requested = false;  // through the API
    bool lease_lost = false;
    bool time_limit_hit = false;
    absl::Duration time_limit;
  };

  engine::JobSpec BuildSpec(const db::ClaimedJob& claimed, const std::string& dir) const;
  absl::Duration TimeLimit(const db::ClaimedJob& claimed) const;
  JobEnd Finish(const db::LeaseToken& lease, const engine::Status& status,
                const engine::JobOutcome& outcome, const engine::JobSpec& spec,
                const RunSignals& signals);
  // The engine ignored its cancel token (see JobWatchdog): records the end
  // the job would have had and hands the process to options_.on_engine_stuck.
  JobEnd EndStuckRun(const db::LeaseToken& lease, const engine::JobSpec& spec,
                     const RunSignals& signals);
  bool draining();
  // Stores the engine's search state as a blob and records it on the job.
  void SaveCheckpoint(const db::LeaseToken& lease, const std::string& dir,
                      const std::string& state);
  JobEnd FailJob(const db::LeaseToken& lease, const std::string& reason,
                 const std::string& message, bool retryable);

  db::JobQueue* queue_;
  db::JobQueue* heartbeat_queue_ = nullptr;  // null: queue_
  db::BlobStore* blobs_;
  PruneRunner* runner_;
  WorkerOptions options_;
  std::function<absl::Time()> clock_;
  metrics::WorkerMetrics* metrics_;

  std::mutex mu_;
  bool draining_ = false;
  engine::CancelToken* running_cancel_ = nullptr;  // guarded by mu_
};

}  // namespace prune::worker
