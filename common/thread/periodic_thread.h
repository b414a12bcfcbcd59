// A background thread that calls one function at a fixed period until its
// owner is destroyed. The lease keeper, the job watchdog, the database health
// monitor and the stale-upload purger all need exactly this; the stop flag,
// condition variable and join live here once.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/time/time.h"

namespace prune {

class PeriodicThread {
 public:
  enum class FirstTick { kImmediately, kAfterOnePeriod };

  // Calls `tick` on the new thread (first at once or after one period, then
  // every `period` after the previous call returned) until `tick` returns
  // false or this object is destroyed. Declare it as the owner's last
  // member: it starts at once, and must stop before what `tick` uses is gone.
  PeriodicThread(absl::Duration period, FirstTick first, std::function<bool()> tick);
  // Ends a wait at once and joins; a tick in progress finishes first.
  ~PeriodicThread();

  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

 private:
  void Loop(FirstTick first);

  const absl::Duration period_;
  std::function<bool()> tick_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the fields above are set
};

}  // namespace prune
