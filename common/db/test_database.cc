#include "common/db/test_database.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/db/connection.h"

namespace prune::db::testing {

absl::StatusOr<std::string> ClusterUrl() {
  if (const char* url = std::getenv("PRUNE_TEST_DATABASE_URL"); url != nullptr && *url != '\0') {
    return std::string(url);
  }
  std::ifstream in(PRUNE_TEST_DATABASE_URL_FILE);
  std::string url;
  if (!std::getline(in, url) || url.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no test database: set PRUNE_TEST_DATABASE_URL or run through ctest, whose fixture writes ",
        PRUNE_TEST_DATABASE_URL_FILE));
  }
  return std::string(absl::StripAsciiWhitespace(url));
}

std::string WithDatabase(const std::string& url, const std::string& database) {
  const size_t query = url.find('?');
  const size_t slash = url.rfind('/', query);
  return absl::StrCat(url.substr(0, slash + 1), database,
                      query == std::string::npos ? "" : url.substr(query));
}

absl::StatusOr<std::unique_ptr<ScratchDatabase>> ScratchDatabase::Create() {
  absl::StatusOr<std::string> cluster = ClusterUrl();
  if (!cluster.ok()) return cluster.status();
  static std::atomic<int> counter{0};
  std::random_device random;
  const std::string name =
      absl::StrCat("t_", getpid(), "_", counter.fetch_add(1), "_", random() % 1000000);
  absl::StatusOr<std::unique_ptr<Connection>> admin =
      Connection::Open(WithDatabase(*cluster, "postgres"), absl::Seconds(5));
  if (!admin.ok()) return admin.status();
  // CREATE DATABASE takes no parameters; the name is generated above.
  if (auto created = (*admin)->Exec(absl::StrCat("CREATE DATABASE ", name)); !created.ok()) {
    return created.status();
  }
  return std::unique_ptr<ScratchDatabase>(
      new ScratchDatabase(*cluster, name, WithDatabase(*cluster, name)));
}

ScratchDatabase::~ScratchDatabase() {
  absl::StatusOr<std::unique_ptr<Connection>> admin =
      Connection::Open(WithDatabase(cluster_url_, "postgres"), absl::Seconds(5));
  if (admin.ok())
    (void)(*admin)->Exec(absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"));
}

}  // namespace prune::db::testing
