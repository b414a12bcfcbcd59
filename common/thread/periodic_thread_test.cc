#include "common/thread/periodic_thread.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace prune {
namespace {

using Clock = std::chrono::steady_clock;

TEST(PeriodicThread, TicksAtOnceThenEveryPeriodUntilDestroyed) {
  std::atomic<int> ticks{0};
  {
    PeriodicThread thread(absl::Milliseconds(20), PeriodicThread::FirstTick::kImmediately, [&] {
      ++ticks;
      return true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  const int at_stop = ticks.load();
  EXPECT_GE(at_stop, 3);   // about 15 expected; a loaded machine gives fewer
  EXPECT_LE(at_stop, 16);  // never faster than the period
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(ticks.load(), at_stop);  // nothing runs after destruction
}

TEST(PeriodicThread, AfterOnePeriodWaitsBeforeTheFirstTick) {
  std::atomic<int> ticks{0};
  PeriodicThread thread(absl::Seconds(30), PeriodicThread::FirstTick::kAfterOnePeriod, [&] {
    ++ticks;
    return true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(ticks.load(), 0);
}

TEST(PeriodicThread, DestructionEndsALongWaitAtOnce) {
  const auto start = Clock::now();
  {
    PeriodicThread thread(absl::Hours(1), PeriodicThread::FirstTick::kAfterOnePeriod,
                          [] { return true; });
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

TEST(PeriodicThread, ATickReturningFalseEndsTheLoop) {
  std::atomic<int> ticks{0};
  PeriodicThread thread(absl::Milliseconds(1), PeriodicThread::FirstTick::kImmediately,
                        [&] { return ++ticks < 3; });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(ticks.load(), 3);
}

TEST(PeriodicThread, DestructionWaitsForARunningTick) {
  std::atomic<bool> entered{false};
  std::atomic<bool> finished{false};
  {
    PeriodicThread thread(absl::Hours(1), PeriodicThread::FirstTick::kImmediately, [&] {
      entered = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      finished = true;
      return true;
    });
    while (!entered) std::this_thread::yield();
  }
  EXPECT_TRUE(finished.load());
}

}  // namespace
}  // namespace prune
