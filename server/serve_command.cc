#include "server/serve_command.h"

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include <spdlog/spdlog.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/db/blob_store.h"
#include "common/db/connection_pool.h"
#include "common/db/metadata_store.h"
#include "common/db/migrations.h"
#include "common/db/token_store.h"
#include "common/metrics/metrics_http_server.h"
#include "common/metrics/registry.h"
#include "common/metrics/service_metrics.h"
#include "server/api_server.h"
#include "server/auth.h"
#include "server/database_authenticator.h"
#include "server/database_health_monitor.h"
#include "server/job_state_gauge.h"
#include "server/stale_upload_purger.h"

namespace prune::server {
namespace {

std::string ShellQuote(const std::string& s) {
  std::string quoted = "'";
  for (char c : s) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

// Output of `command` (stderr passes through), or an error if it failed.
absl::StatusOr<std::string> RunAndCapture(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError(absl::StrCat("cannot run ", command));
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  if (status != 0) {
    return absl::UnavailableError(absl::StrCat("'", command, "' failed with status ",
                                               WIFEXITED(status) ? WEXITSTATUS(status) : status));
  }
  return output;
}

struct Database {
  std::unique_ptr<db::ConnectionPool> pool;
  std::string embedded_data_dir;  // non-empty when we started the cluster
  std::string pg_helper;
};

void StopEmbedded(const Database& database) {
  if (database.embedded_data_dir.empty()) return;
  spdlog::info("stopping the embedded PostgreSQL cluster in {}", database.embedded_data_dir);
  (void)RunAndCapture(absl::StrCat(ShellQuote(database.pg_helper), " stop ",
                                   ShellQuote(database.embedded_data_dir)));
}

absl::StatusOr<Database> OpenDatabase(const DatabaseOptions& options) {
  Database database;
  std::string url = options.database_url;
  if (url.empty()) {
    database.pg_helper = options.pg_helper.empty() ? DefaultPgHelper() : options.pg_helper;
    spdlog::info("no --database-url: starting the embedded PostgreSQL cluster in {} with {}",
                 options.data_dir, database.pg_helper);
    // A cluster that was already running belongs to someone else: use it,
    // but leave it running on exit.
    const bool already_running =
        access(absl::StrCat(options.data_dir, "/postmaster.pid").c_str(), F_OK) == 0;
    absl::StatusOr<std::string> started =
        StartEmbeddedPostgres(database.pg_helper, options.data_dir);
    if (!started.ok()) return started.status();
    url = *started;
    if (!already_running) database.embedded_data_dir = options.data_dir;
  }
  absl::StatusOr<std::unique_ptr<db::ConnectionPool>> pool =
      db::ConnectionPool::Create(url, options.pool_size);
  if (!pool.ok()) {
    StopEmbedded(database);
    return pool.status();
  }
  database.pool = std::move(*pool);
  if (absl::Status s = db::ApplyMigrations(database.pool.get()); !s.ok()) {
    StopEmbedded(database);
    return s;
  }
  return database;
}

int WaitForTerminationSignal() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  return signal_number;
}

}  // namespace

bool MetricsDisabled(const std::string& address) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(address));
  return lower.empty() || lower == "off" || lower == "none";
}

std::string MetricsListenHost(const std::string& address) {
  const size_t colon = address.rfind(':');
  std::string host = colon == std::string::npos ? "" : address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host.empty() ? "0.0.0.0" : host;
}

std::string DefaultPgHelper() { return absl::StrCat(PRUNE_SOURCE_ROOT, "/scripts/pg.sh"); }

absl::StatusOr<std::string> StartEmbeddedPostgres(const std::string& pg_helper,
                                                  const std::string& data_dir) {
  absl::StatusOr<std::string> output =
      RunAndCapture(absl::StrCat(ShellQuote(pg_helper), " start ", ShellQuote(data_dir)));
  if (!output.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "DATABASE_UNAVAILABLE: cannot start the embedded PostgreSQL: ", output.status().message()));
  }
  std::string url(absl::StripAsciiWhitespace(*output));
  if (url.rfind("postgresql://", 0) != 0) {
    return absl::UnavailableError(
        absl::StrCat("DATABASE_UNAVAILABLE: ", pg_helper, " printed no URL: '", url, "'"));
  }
  return url;
}

int RunServe(const ServeOptions& options) {
  absl::StatusOr<Database> database = OpenDatabase(options.database);
  if (!database.ok()) {
    spdlog::error("cannot open the database: {}", database.status().ToString());
    return 1;
  }
  absl::Cleanup stop_embedded = [&] { StopEmbedded(*database); };
  db::MetadataStore store(database->pool.get());
  if (absl::Status s = store.EnsureTenant(kDefaultTenant); !s.ok()) {
    spdlog::error("cannot create tenant '{}': {}", kDefaultTenant, s.ToString());
    return 1;
  }
  db::BlobStore blobs(database->pool.get());
  absl::StatusOr<AuthMode> auth_mode = ChooseAuthMode(options.auth_mode, options.token);
  if (!auth_mode.ok()) {
    spdlog::error("{}", std::string(auth_mode.status().message()));
    return 1;
  }
  db::TokenStore tokens(database->pool.get());
  std::unique_ptr<Authenticator> authenticator;
  switch (*auth_mode) {
    case AuthMode::kNone:
      authenticator = std::make_unique<AllowAllAuthenticator>();
      spdlog::warn(
          "AUTHENTICATION IS OFF (--auth none): every caller is tenant '{}'; use --auth database "
          "or --token in any shared deployment",
          kDefaultTenant);
      break;
    case AuthMode::kStatic:
      authenticator = std::make_unique<StaticTokenAuthenticator>(options.token);
      spdlog::info("auth static: one bearer token, tenant '{}'", kDefaultTenant);
      break;
    case AuthMode::kDatabase: {
      DatabaseAuthenticatorOptions auth_options;
      auth_options.cache_ttl = options.token_cache_ttl;
      authenticator = std::make_unique<DatabaseAuthenticator>(&tokens, auth_options);
      absl::StatusOr<bool> any = tokens.AnyLiveToken();
      if (any.ok() && !*any) {
        spdlog::warn(
            "auth database: no live token exists, every call will be rejected; issue one with "
            "'pruned admin token issue --tenant T --name N'");
      }
      spdlog::info("auth database: tokens from the database, revocation takes effect within {}",
                   absl::FormatDuration(options.token_cache_ttl));
      break;
    }
  }

  // Metrics: declared after the database so they go first on return; the
  // prune_jobs callback is cleared before the gauge and the pool go.
  metrics::Registry registry;
  absl::StatusOr<metrics::ServerMetrics> server_metrics = metrics::ServerMetrics::Create(registry);
  if (!server_metrics.ok()) {
    spdlog::error("cannot register metrics: {}", server_metrics.status().ToString());
    return 1;
  }
  std::unique_ptr<JobStateGauge> job_states;
  std::unique_ptr<metrics::MetricsHttpServer> metrics_server;
  absl::Cleanup stop_metrics = [&] {
    if (metrics_server != nullptr) metrics_server->Stop();
    server_metrics->jobs->ClearCallback();
    job_states.reset();
  };
  if (MetricsDisabled(options.metrics_address)) {
    spdlog::info("metrics endpoint off");
  } else {
    job_states = std::make_unique<JobStateGauge>(database->pool.get());
    server_metrics->jobs->SetCallback([gauge = job_states.get()] { return gauge->Collect(); });
    absl::StatusOr<std::unique_ptr<metrics::MetricsHttpServer>> started =
        metrics::MetricsHttpServer::Start(registry, options.metrics_address);
    if (started.ok()) {
      metrics_server = std::move(*started);
      spdlog::info("metrics listening on {}:{}", MetricsListenHost(options.metrics_address),
                   metrics_server->port());
    } else if (options.metrics_address_required) {
      spdlog::error("cannot serve metrics on {}: {}", options.metrics_address,
                    started.status().ToString());
      return 1;
    } else {
      spdlog::warn("no metrics endpoint: cannot serve metrics on the default {}: {}",
                   options.metrics_address, started.status().ToString());
    }
  }

  ApiServerOptions server_options;
  server_options.listen_address = options.listen_address;
  server_options.tls = options.tls;
  server_options.service.max_upload_bytes = options.max_upload_bytes;
  server_options.service.upload_ttl = options.upload_ttl;
  server_options.service.metrics = &*server_metrics;
  absl::StatusOr<std::unique_ptr<ApiServer>> server =
      ApiServer::Start(server_options, &store, &blobs, authenticator.get());
  if (!server.ok()) {
    spdlog::error("{}", server.status().ToString());
    return 1;
  }
  ApiServer* api = server->get();
  auto database_health = std::make_unique<DatabaseHealthMonitor>(
      database->pool.get(), options.database_check_interval,
      [api](bool reachable) { api->SetDatabaseReachable(reachable); });
  StaleUploadPurger purger(&blobs, options.upload_ttl,
                           StaleUploadPurger::DefaultInterval(options.upload_ttl));
  spdlog::info("broken uploads stay resumable for {}", absl::FormatDuration(options.upload_ttl));
  const int signal_number = WaitForTerminationSignal();
  spdlog::info("received signal {}", signal_number);
  database_health.reset();
  (*server)->StartDraining();
  absl::SleepFor(options.drain_delay);
  (*server)->Shutdown(options.shutdown_grace);
  return 0;
}

int WithDatabase(const DatabaseOptions& options,
                 const std::function<int(db::ConnectionPool* pool)>& action) {
  absl::StatusOr<Database> database = OpenDatabase(options);
  if (!database.ok()) {
    spdlog::error("cannot open the database: {}", database.status().ToString());
    return 1;
  }
  const int code = action(database->pool.get());
  StopEmbedded(*database);
  return code;
}

int RunMigrate(const DatabaseOptions& options) {
  absl::StatusOr<Database> database = OpenDatabase(options);
  if (!database.ok()) {
    spdlog::error("migrations failed: {}", database.status().ToString());
    return 1;
  }
  spdlog::info("migrations applied");
  StopEmbedded(*database);
  return 0;
}

}  // namespace prune::server
