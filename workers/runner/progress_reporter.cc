#include "workers/runner/progress_reporter.h"

#include <utility>

#include "spdlog/spdlog.h"

namespace prune::worker {

ProgressReporter::ProgressReporter(db::JobQueue* queue, db::LeaseToken lease,
                                   absl::Duration interval, std::function<absl::Time()> clock)
    : queue_(queue), lease_(std::move(lease)), interval_(interval), clock_(std::move(clock)) {}

void ProgressReporter::Report(const engine::Progress& progress) {
  const absl::Time now = clock_();
  const bool new_stage = progress.stage != last_stage_;
  if (!new_stage && last_written_ && now - *last_written_ < interval_) return;
  absl::Status written =
      queue_->ReportProgress(lease_, progress.fraction, progress.stage, progress.message, now);
  if (!written.ok()) {
    // Progress is best effort; a lost lease is noticed by the heartbeat.
    spdlog::debug("job {}: progress not recorded: {}", lease_.job_id, written.ToString());
    return;
  }
  last_stage_ = progress.stage;
  last_written_ = now;
}

}  // namespace prune::worker
