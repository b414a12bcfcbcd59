// Enforces a job's time limit and deals with an engine that will not stop.
//
// The engine stops cooperatively: it checks its cancel token between batches.
// A model whose forward never returns never reaches such a check, and LibTorch
// cannot interrupt a running TorchScript interpreter from outside. So the
// watchdog (its own thread) cancels the run at the deadline, and once the run
// is cancelled for any reason (the deadline, a user's cancel, a drain, a lost
// lease) and has not returned within `grace`, it calls `on_stuck` once. The
// owner then records how the job ended and replaces the process: the stuck
// thread can only end with it (see JobExecutor and prune-worker's main.cc).
#pragma once

#include <atomic>
#include <functional>
#include <optional>

#include "absl/time/time.h"
#include "common/thread/periodic_thread.h"
#include "prune/engine/job.h"

namespace prune::worker {

class JobWatchdog {
 public:
  // `clock` decides deadlines (tests pass a fake); the thread re-checks every
  // `poll` of real time.
  JobWatchdog(engine::CancelToken* cancel, absl::Time deadline, absl::Duration grace,
              std::function<absl::Time()> clock, std::function<void()> on_stuck,
              absl::Duration poll = absl::Milliseconds(100));
  ~JobWatchdog() = default;  // stops the thread; waits for a running on_stuck

  JobWatchdog(const JobWatchdog&) = delete;
  JobWatchdog& operator=(const JobWatchdog&) = delete;

  // True once the deadline passed while the run was still going.
  bool time_limit_hit() const { return time_limit_hit_.load(); }

 private:
  // One check; false once on_stuck ran (the watchdog has done its job).
  bool CheckOnce();

  engine::CancelToken* cancel_;
  absl::Time deadline_;
  absl::Duration grace_;
  std::function<absl::Time()> clock_;
  std::function<void()> on_stuck_;
  std::atomic<bool> time_limit_hit_{false};
  std::optional<absl::Time> cancelled_at_;  // the thread's alone
  PeriodicThread thread_;                   // last: starts at once
};

}  // namespace prune::worker
