// Keeps one job's lease alive from a background thread while the engine runs,
// and turns what the heartbeat learns into the engine's cancel token: a
// cancel requested through the API, or a lease that another worker now owns.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>

#include "absl/time/time.h"
#include "common/db/job_queue.h"
#include "common/thread/periodic_thread.h"
#include "prune/engine/job.h"

namespace prune::worker {

class LeaseKeeper {
 public:
  // tenant: for the log lines of the heartbeat thread. Between heartbeats
  // (every `interval`) a cheap read polls for a cancel every `cancel_poll`.
  LeaseKeeper(db::JobQueue* queue, db::LeaseToken lease, std::string tenant,
              absl::Duration lease_ttl, absl::Duration interval, absl::Duration cancel_poll,
              std::function<absl::Time()> clock, engine::CancelToken* cancel);
  ~LeaseKeeper() = default;  // stops the thread

  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  bool cancel_requested() const { return cancel_requested_.load(); }
  bool lease_lost() const { return lease_lost_.load(); }
  // Asks the engine to stop for a reason of the worker's own (shutdown).
  void StopEngine() { cancel_->Cancel(); }

 private:
  // Every cancel_poll: a heartbeat when one is due, else a cancel poll.
  void Tick();
  void BeatOnce();
  void PollCancel();
  void OnCancelRequested();
  void OnLeaseLost(const absl::Status& status);

  db::JobQueue* queue_;
  db::LeaseToken lease_;
  std::string tenant_;
  absl::Duration lease_ttl_;
  absl::Duration interval_;
  absl::Duration cancel_poll_;
  std::function<absl::Time()> clock_;
  engine::CancelToken* cancel_;
  std::atomic<bool> cancel_requested_{false};
  std::atomic<bool> lease_lost_{false};
  std::chrono::steady_clock::time_point next_beat_;  // the thread's alone
  PeriodicThread thread_;                            // last: starts at once
};

}  // namespace prune::worker
