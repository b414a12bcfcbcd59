#include "workers/runner/lease_keeper.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/status/status.h"
#include "common/log/logging.h"
#include "spdlog/spdlog.h"

namespace prune::worker {

LeaseKeeper::LeaseKeeper(db::JobQueue* queue, db::LeaseToken lease, std::string tenant,
                         absl::Duration lease_ttl, absl::Duration interval,
                         absl::Duration cancel_poll, std::function<absl::Time()> clock,
                         engine::CancelToken* cancel)
    : queue_(queue),
      lease_(std::move(lease)),
      tenant_(std::move(tenant)),
      lease_ttl_(lease_ttl),
      interval_(interval),
      cancel_poll_(std::min(cancel_poll, interval)),
      clock_(std::move(clock)),
      cancel_(cancel),
      next_beat_(std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(interval)),
      thread_(cancel_poll_, PeriodicThread::FirstTick::kAfterOnePeriod, [this] {
        Tick();
        return true;
      }) {}

void LeaseKeeper::Tick() {
  const log::ScopedJobContext log_context(lease_.job_id, tenant_, lease_.attempt);
  using Steady = std::chrono::steady_clock;
  if (Steady::now() >= next_beat_) {
    BeatOnce();
    next_beat_ = Steady::now() + absl::ToChronoMilliseconds(interval_);
  } else if (!cancel_requested_ && !lease_lost_) {
    PollCancel();
  }
}

void LeaseKeeper::OnCancelRequested() {
  if (cancel_requested_.exchange(true)) return;
  spdlog::info("job {} attempt {}: cancel requested, stopping the engine", lease_.job_id,
               lease_.attempt);
  cancel_->Cancel();
}

void LeaseKeeper::OnLeaseLost(const absl::Status& status) {
  // Another worker (or the reaper) owns the job now: whatever we compute
  // can never be written, so stop spending the device on it.
  if (lease_lost_.exchange(true)) return;
  spdlog::warn("job {} attempt {}: lease lost ({}), abandoning", lease_.job_id, lease_.attempt,
               std::string(status.message()));
  cancel_->Cancel();
}

void LeaseKeeper::BeatOnce() {
  auto result = queue_->Heartbeat(lease_, lease_ttl_, clock_());
  if (result.ok()) {
    if (result->cancel_requested) OnCancelRequested();
    return;
  }
  if (absl::IsAborted(result.status())) {
    OnLeaseLost(result.status());
    return;
  }
  // A database hiccup: keep running and try again on the next beat. The lease
  // TTL is several heartbeat intervals, so one missed beat is harmless.
  spdlog::warn("job {}: heartbeat failed: {}", lease_.job_id, result.status().ToString());
}

void LeaseKeeper::PollCancel() {
  absl::StatusOr<bool> requested = queue_->CancelRequested(lease_);
  if (requested.ok()) {
    if (*requested) OnCancelRequested();
  } else if (absl::IsAborted(requested.status())) {
    OnLeaseLost(requested.status());
  }
  // Other errors: the next heartbeat reports them.
}

}  // namespace prune::worker
