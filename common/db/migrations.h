// Schema migrations: numbered SQL files from common/db/migrations/, embedded
// into the library at build time so binaries need no source tree.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace prune::db {

class ConnectionPool;

struct Migration {
  int version = 0;   // from the file name: 0001_initial.sql -> 1
  std::string name;  // "initial"
  std::string sql;
};

// All embedded migrations, ascending by version (generated file).
const std::vector<Migration>& EmbeddedMigrations();

// Applies the embedded migrations that are missing, each in its own
// transaction under an advisory lock, recorded in schema_migrations.
// Idempotent and safe to call from several processes at once.
absl::Status ApplyMigrations(ConnectionPool* pool);
absl::Status ApplyMigrations(ConnectionPool* pool, const std::vector<Migration>& migrations);

}  // namespace prune::db
