// Watches whether PostgreSQL answers, so that readiness can say so: a server
// that cannot reach its database should get no traffic (every call would end
// in UNAVAILABLE), yet it must not be restarted either (liveness stays
// SERVING), since a restart does not bring the database back.
#pragma once

#include <functional>
#include <optional>

#include "absl/time/time.h"
#include "common/db/connection_pool.h"
#include "common/thread/periodic_thread.h"

namespace prune::server {

class DatabaseHealthMonitor {
 public:
  // Runs `SELECT 1` every `interval` (each try bounded by `interval` too) and
  // calls on_change(reachable) from its own thread whenever the answer
  // changes; the first result is always reported. The pool must outlive it.
  DatabaseHealthMonitor(db::ConnectionPool* pool, absl::Duration interval,
                        std::function<void(bool reachable)> on_change);
  ~DatabaseHealthMonitor() = default;  // stops the thread

  DatabaseHealthMonitor(const DatabaseHealthMonitor&) = delete;
  DatabaseHealthMonitor& operator=(const DatabaseHealthMonitor&) = delete;

 private:
  bool Probe();
  void CheckOnce();

  db::ConnectionPool* pool_;
  absl::Duration interval_;
  std::function<void(bool)> on_change_;
  std::optional<bool> last_;  // the thread's alone
  PeriodicThread thread_;     // last: starts at once
};

}  // namespace prune::server
