#include "common/db/connection_pool.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace prune::db {

absl::StatusOr<std::unique_ptr<ConnectionPool>> ConnectionPool::Create(std::string url,
                                                                       int max_size) {
  if (max_size < 1) return absl::InvalidArgumentError("connection pool max_size must be >= 1");
  // Connections open lazily: a service may start before its database does.
  return std::unique_ptr<ConnectionPool>(new ConnectionPool(std::move(url), max_size));
}

ConnectionPool::~ConnectionPool() = default;

const std::string& ConnectionPool::url() const { return url_; }

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  {
    std::unique_lock<std::mutex> lock(mu_);
    while (idle_.empty() && open_count_ >= max_size_) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration() ||
          available_.wait_for(lock, absl::ToChronoNanoseconds(left)) == std::cv_status::timeout) {
        if (!idle_.empty() || open_count_ < max_size_) break;
        return absl::UnavailableError(absl::StrCat("no database connection free within ",
                                                   absl::FormatDuration(timeout), " (pool size ",
                                                   max_size_, ")"));
      }
    }
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_count_;  // reserve the slot; connect without holding the lock
  }
  absl::StatusOr<std::unique_ptr<Connection>> conn =
      Connection::Open(url_, std::max(deadline - absl::Now(), absl::Seconds(1)));
  if (!conn.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    --open_count_;
    available_.notify_one();
    return conn.status();
  }
  return Lease(this, *std::move(conn));
}

void ConnectionPool::Return(std::unique_ptr<Connection> conn) {
  std::lock_guard<std::mutex> lock(mu_);
  // A broken socket or a transaction left open (failed ROLLBACK) must never be
  // handed to the next caller.
  if (conn->IsBroken() || !conn->IsIdle()) {
    --open_count_;
  } else {
    idle_.push_back(std::move(conn));
  }
  available_.notify_one();
}

ConnectionPool::Lease& ConnectionPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    if (conn_ != nullptr) pool_->Return(std::move(conn_));
    pool_ = other.pool_;
    conn_ = std::move(other.conn_);
  }
  return *this;
}

ConnectionPool::Lease::~Lease() {
  if (conn_ != nullptr) pool_->Return(std::move(conn_));
}

}  // namespace prune::db
