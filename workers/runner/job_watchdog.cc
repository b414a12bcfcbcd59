#include "workers/runner/job_watchdog.h"

#include <utility>

namespace prune::worker {

JobWatchdog::JobWatchdog(engine::CancelToken* cancel, absl::Time deadline, absl::Duration grace,
                         std::function<absl::Time()> clock, std::function<void()> on_stuck,
                         absl::Duration poll)
    : cancel_(cancel),
      deadline_(deadline),
      grace_(grace),
      clock_(std::move(clock)),
      on_stuck_(std::move(on_stuck)),
      thread_(poll, PeriodicThread::FirstTick::kAfterOnePeriod, [this] { return CheckOnce(); }) {}

bool JobWatchdog::CheckOnce() {
  const absl::Time now = clock_();
  if (!cancel_->cancelled() && now >= deadline_) {
    time_limit_hit_ = true;
    cancel_->Cancel();
  }
  if (!cancel_->cancelled()) return true;
  if (!cancelled_at_) cancelled_at_ = now;
  if (now - *cancelled_at_ < grace_) return true;
  // on_stuck may take a while (database writes) and usually never returns
  // (it replaces the process); the destructor waits for it.
  on_stuck_();
  return false;
}

}  // namespace prune::worker
