// Test support: a fresh, migrated database per test on the private cluster
// that the ctest fixture `prune_db_postgres` started (see tests.cmake).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/db/connection_pool.h"

namespace prune::db::testing {

// The cluster URL: $PRUNE_TEST_DATABASE_URL, else the file the fixture wrote.
absl::StatusOr<std::string> ClusterUrl();

// `url` with its database name replaced.
std::string WithDatabase(const std::string& url, const std::string& database);

// Creates a uniquely named empty database; dropped on destruction.
class ScratchDatabase {
 public:
  static absl::StatusOr<std::unique_ptr<ScratchDatabase>> Create();
  ~ScratchDatabase();
  const std::string& url() const { return url_; }

 private:
  ScratchDatabase(std::string cluster_url, std::string name, std::string url)
      : cluster_url_(std::move(cluster_url)), name_(std::move(name)), url_(std::move(url)) {}
  std::string cluster_url_;
  std::string name_;
  std::string url_;
};

}  // namespace prune::db::testing
