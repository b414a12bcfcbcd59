// A fresh database for one test binary on the cluster of the ctest fixture
// server_pg: the URL comes from $PRUNE_TEST_DATABASE_URL or from the file named
// by $PRUNE_TEST_DATABASE_URL_FILE.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace prune::server::testing {

class TestDatabase {
 public:
  // CREATE DATABASE with a unique name; DROP on destruction.
  static absl::StatusOr<std::unique_ptr<TestDatabase>> Create();
  ~TestDatabase();
  const std::string& url() const { return url_; }

 private:
  TestDatabase(std::string admin_url, std::string name, std::string url)
      : admin_url_(std::move(admin_url)), name_(std::move(name)), url_(std::move(url)) {}
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

}  // namespace prune::server::testing
