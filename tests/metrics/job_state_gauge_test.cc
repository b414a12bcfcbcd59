// JobStateGauge never lets a scrape hang on the database: with a database
// that accepts TCP connections but never answers, and with one that refuses
// them, Collect() returns within its scrape_wait and exports nothing.
#include "server/job_state_gauge.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/db/connection_pool.h"
#include "gtest/gtest.h"

namespace prune::server {
namespace {

// A listening socket nobody accepts on: connects succeed (kernel backlog) and
// the PostgreSQL start-up handshake then waits for an answer that never comes.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd_, 16);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(JobStateGaugeTest, ScrapeDoesNotHangOnSilentDatabase) {
  SilentListener listener;
  auto pool = db::ConnectionPool::Create(
      absl::StrCat("postgresql://postgres@127.0.0.1:", listener.port(), "/prune?connect_timeout=2"),
      2);
  ASSERT_TRUE(pool.ok()) << pool.status();
  JobStateGauge::Options options;
  options.scrape_wait = absl::Milliseconds(200);
  JobStateGauge gauge(pool->get(), options);
  for (int i = 0; i < 3; ++i) {
    const absl::Time start = absl::Now();
    EXPECT_TRUE(gauge.Collect().empty());
    EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  }
}

TEST(JobStateGaugeTest, ScrapeReturnsNothingWhenDatabaseRefuses) {
  const int closed_port = [] {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);  // closed again: connections to it are refused
    return static_cast<int>(ntohs(addr.sin_port));
  }();
  auto pool = db::ConnectionPool::Create(
      absl::StrCat("postgresql://postgres@127.0.0.1:", closed_port, "/prune?connect_timeout=2"), 2);
  ASSERT_TRUE(pool.ok()) << pool.status();
  JobStateGauge gauge(pool->get());
  const absl::Time start = absl::Now();
  EXPECT_TRUE(gauge.Collect().empty());
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

}  // namespace
}  // namespace prune::server
