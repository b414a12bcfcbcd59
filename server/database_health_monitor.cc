#include "server/database_health_monitor.h"

#include <optional>
#include <utility>

#include "spdlog/spdlog.h"

namespace prune::server {

DatabaseHealthMonitor::DatabaseHealthMonitor(db::ConnectionPool* pool, absl::Duration interval,
                                             std::function<void(bool reachable)> on_change)
    : pool_(pool),
      interval_(interval),
      on_change_(std::move(on_change)),
      thread_([this] { Loop(); }) {}

DatabaseHealthMonitor::~DatabaseHealthMonitor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

bool DatabaseHealthMonitor::Probe() {
  absl::StatusOr<db::ConnectionPool::Lease> conn = pool_->Acquire(interval_);
  if (!conn.ok()) return false;
  // A pooled connection may have died with the server; Exec reports that
  // (and the pool reconnects it on a later Acquire).
  return (*conn)->Exec("SELECT 1").ok();
}

void DatabaseHealthMonitor::Loop() {
  std::optional<bool> last;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    const bool reachable = Probe();
    if (!last || *last != reachable) {
      if (reachable) {
        spdlog::info("database reachable: readiness SERVING");
      } else {
        spdlog::warn("database unreachable: readiness NOT_SERVING until it answers again");
      }
      on_change_(reachable);
      last = reachable;
    }
    lock.lock();
    wake_.wait_for(lock, absl::ToChronoMilliseconds(interval_), [this] { return stopping_; });
  }
}

}  // namespace prune::server
