#include "workers/runner/worker_loop.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "spdlog/spdlog.h"

namespace prune::worker {

WorkerLoop::WorkerLoop(db::JobQueue* queue, JobExecutor* executor, WorkerOptions options,
                       std::function<absl::Time()> clock, metrics::WorkerMetrics* metrics)
    : queue_(queue),
      executor_(executor),
      options_(std::move(options)),
      clock_(std::move(clock)),
      metrics_(metrics) {}

void WorkerLoop::Stop() {
  stopping_ = true;
  executor_->Drain();
}

void WorkerLoop::MaybeReap() {
  const absl::Time now = clock_();
  if (now - last_reap_ < options_.reap_interval) return;
  last_reap_ = now;
  auto reaped = queue_->ReapExpiredLeases(now);
  if (!reaped.ok()) {
    spdlog::warn("reaper: {}", reaped.status().ToString());
  } else if (*reaped > 0) {
    spdlog::info("reaper: rescued {} job(s) with expired leases", *reaped);
    // Jobs requeued or failed by this worker's reaper run.
    if (metrics_ != nullptr) metrics_->job_rescues->Increment(*reaped);
  }
}

absl::Status WorkerLoop::Run() {
  int jobs_done = 0;
  spdlog::info("worker {} ready", options_.worker_id);
  while (!stopping_) {
    MaybeReap();
    auto claimed = queue_->Claim(options_.worker_id, options_.lease_ttl, clock_());
    if (!claimed.ok()) {
      // Most likely the database is restarting; the pool reconnects.
      spdlog::warn("claim failed, retrying: {}", claimed.status().ToString());
      std::this_thread::sleep_for(absl::ToChronoMilliseconds(options_.poll_interval));
      continue;
    }
    if (!claimed->has_value()) {
      absl::Status waited = queue_->WaitForWork(options_.poll_interval);
      if (!waited.ok()) std::this_thread::sleep_for(absl::ToChronoMilliseconds(options_.poll_interval));
      continue;
    }
    const db::ClaimedJob& job = **claimed;
    spdlog::info("job {} attempt {}: claimed (model {}, strategy {}, target {}={})", job.job.id,
                 job.job.attempt, job.model.display_name, job.job.params.strategy,
                 job.job.params.target_kind, job.job.params.target_ratio);
    const absl::Time started = clock_();
    if (metrics_ != nullptr) {
      metrics_->job_attempts->Increment();
      // created_at -> claim. Only first attempts: a retried job's created_at
      // would also count its earlier attempts and backoff.
      if (job.job.attempt == 1) {
        metrics_->job_queue_wait->Observe(
            std::max(0.0, absl::ToDoubleSeconds(started - job.job.created_at)));
      }
      metrics_->busy->Set(1);
    }
    JobEnd end = executor_->Execute(job);
    const absl::Duration took = clock_() - started;
    if (metrics_ != nullptr) {
      metrics_->busy->Set(0);
      metrics_->job_duration->WithLabels({JobEndName(end)}).Observe(absl::ToDoubleSeconds(took));
    }
    spdlog::info("job {} attempt {}: {} after {:.1f} s", job.job.id, job.job.attempt,
                 JobEndName(end), absl::ToDoubleSeconds(took));
    if (options_.max_jobs > 0 && ++jobs_done >= options_.max_jobs) break;
  }
  spdlog::info("worker {} stopped", options_.worker_id);
  return absl::OkStatus();
}

}  // namespace prune::worker
