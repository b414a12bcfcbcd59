// The `serve` and `migrate` subcommands of pruned.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/server_credentials.h"

namespace prune::db {
class ConnectionPool;
}  // namespace prune::db

namespace prune::server {

struct DatabaseOptions {
  // Empty: start the embedded local cluster with `pg_helper` in `data_dir`.
  std::string database_url;
  std::string pg_helper;
  std::string data_dir = ".pgdata";
  int pool_size = 16;
};

struct ServeOptions {
  DatabaseOptions database;
  std::string listen_address = "0.0.0.0:50051";
  ServerTlsOptions tls;  // --tls-cert, --tls-key, --tls-client-ca; none: plaintext
  std::string token;     // the static token (--auth static)
  // --auth: "none", "static", "database" or empty (static when a token is
  // given, else none). See ChooseAuthMode in auth.h.
  std::string auth_mode;
  // --auth database: how long a successful token lookup is reused.
  absl::Duration token_cache_ttl = absl::Seconds(5);
  int64_t max_upload_bytes = int64_t{2} << 30;
  // A broken upload stays resumable this long after its last staged chunk;
  // StaleUploadPurger deletes it afterwards.
  absl::Duration upload_ttl = absl::Hours(24);
  absl::Duration drain_delay = absl::Seconds(1);
  absl::Duration shutdown_grace = absl::Seconds(10);
  // How often readiness re-checks that the database answers.
  absl::Duration database_check_interval = absl::Seconds(2);
  // Prometheus /metrics (and /healthz) listen address: "host:port", ":port"
  // (all interfaces) or "off"/"" (no metrics endpoint). Port 0 picks a free
  // port; the log line "metrics listening on HOST:PORT" names it.
  std::string metrics_address = ":9090";
  // When false (the built-in default address is used) a port that cannot be
  // bound only logs a warning; an address given by flag or environment must
  // be bound or pruned exits.
  bool metrics_address_required = false;
};

// True when `address` ("off", "none" or empty, any case) turns metrics off.
bool MetricsDisabled(const std::string& address);

// "host:port" for the log line of a metrics server listening on `port` that
// was asked for `address` (empty host: 0.0.0.0).
std::string MetricsListenHost(const std::string& address);

// The default --pg-helper: scripts/pg.sh of the source tree pruned was built from.
std::string DefaultPgHelper();

// Runs `<pg_helper> start <data_dir>` and returns the URL it prints.
absl::StatusOr<std::string> StartEmbeddedPostgres(const std::string& pg_helper,
                                                  const std::string& data_dir);

// Serves until SIGINT or SIGTERM. Returns the process exit code. SIGINT and
// SIGTERM must be blocked in every thread before this is called.
int RunServe(const ServeOptions& options);

// Applies the database migrations and returns the exit code.
int RunMigrate(const DatabaseOptions& options);

// Opens (and migrates) the database, runs `action` on it and returns its exit
// code; 1 when the database cannot be opened. An embedded cluster started for
// this is stopped afterwards.
int WithDatabase(const DatabaseOptions& options,
                 const std::function<int(db::ConnectionPool* pool)>& action);

}  // namespace prune::server
