// A small pool of libpq connections. Connections that fail are dropped and
// reopened on the next Acquire, so callers recover from a database restart
// without restarting themselves.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/db/connection.h"

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
  int max_size() const { return max_size_; }

 private:
  ConnectionPool(std::string url, int max_size) : url_(std::move(url)), max_size_(max_size) {}
  void Return(std::unique_ptr<Connection> conn);

  const std::string url_;
  const int max_size_;
  std::mutex mu_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  int open_count_ = 0;                             // idle + leased, guarded by mu_
};

// Exclusive use of one connection; must not outlive its pool.
class ConnectionPool::Lease {
 public:
  Lease(ConnectionPool* pool, std::unique_ptr<Connection> conn)
      : pool_(pool), conn_(std::move(conn)) {}
  Lease(Lease&&) noexcept = default;
  Lease& operator=(Lease&& other) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease();

  Connection* get() const { return conn_.get(); }
  Connection* operator->() const { return conn_.get(); }
  Connection& operator*() const { return *conn_; }

 private:
  ConnectionPool* pool_ = nullptr;
  std::unique_ptr<Connection> conn_;
};

}  // namespace prune::db
