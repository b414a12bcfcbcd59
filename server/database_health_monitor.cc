#include "server/database_health_monitor.h"

#include <utility>

#include "spdlog/spdlog.h"

namespace prune::server {

DatabaseHealthMonitor::DatabaseHealthMonitor(db::ConnectionPool* pool, absl::Duration interval,
                                             std::function<void(bool reachable)> on_change)
    : pool_(pool),
      interval_(interval),
      on_change_(std::move(on_change)),
      thread_(interval, PeriodicThread::FirstTick::kImmediately, [this] {
        CheckOnce();
        return true;
      }) {}

bool DatabaseHealthMonitor::Probe() {
  absl::StatusOr<db::ConnectionPool::Lease> conn = pool_->Acquire(interval_);
  if (!conn.ok()) return false;
  // A pooled connection may have died with the server; Exec reports that
  // (and the pool reconnects it on a later Acquire).
  return (*conn)->Exec("SELECT 1").ok();
}

void DatabaseHealthMonitor::CheckOnce() {
  const bool reachable = Probe();
  if (last_ && *last_ == reachable) return;
  if (reachable) {
    spdlog::info("database reachable: readiness SERVING");
  } else {
    spdlog::warn("database unreachable: readiness NOT_SERVING until it answers again");
  }
  on_change_(reachable);
  last_ = reachable;
}

}  // namespace prune::server
