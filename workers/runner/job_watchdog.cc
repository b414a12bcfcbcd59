#include "workers/runner/job_watchdog.h"

#include <optional>
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
      poll_(poll),
      thread_([this] { Loop(); }) {}

JobWatchdog::~JobWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void JobWatchdog::Loop() {
  std::optional<absl::Time> cancelled_at;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, absl::ToChronoMilliseconds(poll_), [this] { return stopping_; });
    if (stopping_) return;
    const absl::Time now = clock_();
    if (!cancel_->cancelled() && now >= deadline_) {
      time_limit_hit_ = true;
      cancel_->Cancel();
    }
    if (!cancel_->cancelled()) continue;
    if (!cancelled_at) cancelled_at = now;
    if (now - *cancelled_at >= grace_) {
      // Unlocked: on_stuck may take a while (database writes) and usually
      // never returns (it replaces the process); the destructor waits.
      lock.unlock();
      on_stuck_();
      return;
    }
  }
}

}  // namespace prune::worker
