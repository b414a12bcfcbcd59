#include "common/thread/periodic_thread.h"

#include <utility>

namespace prune {

PeriodicThread::PeriodicThread(absl::Duration period, FirstTick first, std::function<bool()> tick)
    : period_(period), tick_(std::move(tick)), thread_([this, first] { Loop(first); }) {}

PeriodicThread::~PeriodicThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void PeriodicThread::Loop(FirstTick first) {
  std::unique_lock<std::mutex> lock(mu_);
  bool wait = first == FirstTick::kAfterOnePeriod;
  while (!stopping_) {
    if (wait) {
      wake_.wait_for(lock, absl::ToChronoNanoseconds(period_), [this] { return stopping_; });
      if (stopping_) return;
    }
    wait = true;
    // Unlocked: a tick may take long (database calls); the destructor waits.
    lock.unlock();
    const bool go_on = tick_();
    lock.lock();
    if (!go_on) return;
  }
}

}  // namespace prune
