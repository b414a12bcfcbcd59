// A small pool of libpq connections. Connections that fail are dropped and
// reopened on the next Acquire, so callers recover from a database restart
// without restarting themselves.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace prune::db {

class Connection;  // libpq RAII wrapper, common/db/connection.h

class ConnectionPool {
 public:
  class Lease;  // returns the connection to the pool when destroyed

  // url: a libpq connection string or postgresql:// URL.
  static absl::StatusOr<std::unique_ptr<ConnectionPool>> Create(std::string url, int max_size);
  ~ConnectionPool();

  // UNAVAILABLE (not a hang) when the database cannot be reached within
  // `timeout`.
  absl::StatusOr<Lease> Acquire(absl::Duration timeout = absl::Seconds(5));
  const std::string& url() const;

  // ... implementation-defined members below this line.
};

}  // namespace prune::db
