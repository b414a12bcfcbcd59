#include "common/db/migrations.h"

#include "absl/strings/str_cat.h"
#include "common/db/connection.h"
#include "common/db/connection_pool.h"

namespace prune::db {
namespace {

// Arbitrary but fixed: every process migrating this database agrees on it.
constexpr char kMigrationLockKey[] = "31930309149550951";  // fixed; shared by all migrators

absl::Status ApplyOne(Connection* conn, const Migration& migration) {
  absl::StatusOr<Transaction> txn = Transaction::Begin(conn);
  if (!txn.ok()) return txn.status();
  // The lock serialises concurrent migrators; the xact variant is released by
  // COMMIT/ROLLBACK, so a crashed migrator never leaves it held.
  if (auto locked = conn->Exec("SELECT pg_advisory_xact_lock($1::bigint)", {kMigrationLockKey});
      !locked.ok()) {
    return locked.status();
  }
  // Created under the lock: two concurrent CREATE TABLE IF NOT EXISTS can
  // otherwise collide on the catalog's unique index.
  if (auto created = conn->Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                                " version integer PRIMARY KEY, name text NOT NULL,"
                                " applied_at timestamptz NOT NULL DEFAULT now())");
      !created.ok()) {
    return created.status();
  }
  absl::StatusOr<Result> applied =
      conn->Exec("SELECT 1 FROM schema_migrations WHERE version = $1::integer",
                 {static_cast<int32_t>(migration.version)});
  if (!applied.ok()) return applied.status();
  if (applied->rows() > 0) return txn->Commit();
  if (absl::Status run = conn->ExecScript(migration.sql); !run.ok()) {
    return absl::Status(run.code(), absl::StrCat("migration ", migration.version, "_",
                                                 migration.name, " failed: ", run.message()));
  }
  if (auto recorded =
          conn->Exec("INSERT INTO schema_migrations (version, name) VALUES ($1::integer, $2)",
                     {static_cast<int32_t>(migration.version), migration.name});
      !recorded.ok()) {
    return recorded.status();
  }
  return txn->Commit();
}

}  // namespace

absl::Status ApplyMigrations(ConnectionPool* pool) {
  return ApplyMigrations(pool, EmbeddedMigrations());
}

absl::Status ApplyMigrations(ConnectionPool* pool, const std::vector<Migration>& migrations) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool->Acquire();
  if (!conn.ok()) return conn.status();
  for (const Migration& migration : migrations) {
    if (absl::Status status = ApplyOne(conn->get(), migration); !status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace prune::db
