#include "server/test/test_database.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace prune::server::testing {
namespace {

absl::StatusOr<std::string> ClusterUrl() {
  if (const char* url = std::getenv("PRUNE_TEST_DATABASE_URL"); url != nullptr && *url) {
    return std::string(url);
  }
  const char* file = std::getenv("PRUNE_TEST_DATABASE_URL_FILE");
  if (file == nullptr) {
    return absl::FailedPreconditionError(
        "set PRUNE_TEST_DATABASE_URL or PRUNE_TEST_DATABASE_URL_FILE (run through ctest)");
  }
  std::ifstream in(file);
  std::stringstream content;
  content << in.rdbuf();
  std::string url(absl::StripAsciiWhitespace(content.str()));
  if (url.empty()) return absl::FailedPreconditionError(absl::StrCat("no URL in ", file));
  return url;
}

// postgresql://user@host:port/db -> same URL with another database.
std::string WithDatabase(const std::string& url, const std::string& database) {
  const size_t slash = url.rfind('/');
  return url.substr(0, slash + 1) + database;
}

absl::Status Execute(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  absl::Status status;
  if (PQstatus(conn) != CONNECTION_OK) {
    status = absl::UnavailableError(PQerrorMessage(conn));
  } else {
    PGresult* result = PQexec(conn, sql.c_str());
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
      status = absl::InternalError(PQresultErrorMessage(result));
    }
    PQclear(result);
  }
  PQfinish(conn);
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestDatabase>> TestDatabase::Create() {
  absl::StatusOr<std::string> cluster = ClusterUrl();
  if (!cluster.ok()) return cluster.status();
  const std::string name =
      absl::StrCat("pruned_test_", getpid(), "_", absl::ToUnixMicros(absl::Now()));
  const std::string admin_url = WithDatabase(*cluster, "postgres");
  if (absl::Status s = Execute(admin_url, absl::StrCat("CREATE DATABASE ", name)); !s.ok()) {
    return s;
  }
  return std::unique_ptr<TestDatabase>(
      new TestDatabase(admin_url, name, WithDatabase(*cluster, name)));
}

TestDatabase::~TestDatabase() {
  (void)Execute(admin_url_, absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"));
}

}  // namespace prune::server::testing
