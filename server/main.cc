// pruned: the prune-service gRPC front-end (DESIGN.md §1).
#include <signal.h>

#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "server/logging.h"
#include "server/serve_command.h"

namespace {

// Flags fall back to these environment variables.
constexpr char kEnvListen[] = "PRUNE_LISTEN";
constexpr char kEnvDatabaseUrl[] = "PRUNE_DATABASE_URL";
constexpr char kEnvPgHelper[] = "PRUNE_PG_HELPER";
constexpr char kEnvToken[] = "PRUNE_TOKEN";
constexpr char kEnvMetricsListen[] = "PRUNE_METRICS_LISTEN";

void AddDatabaseFlags(CLI::App* command, prune::server::DatabaseOptions* options) {
  command
      ->add_option("--database-url", options->database_url,
                   "PostgreSQL URL; without it the embedded local cluster is started")
      ->envname(kEnvDatabaseUrl);
  command
      ->add_option("--pg-helper", options->pg_helper,
                   "scripts/pg.sh that starts the embedded cluster")
      ->envname(kEnvPgHelper)
      ->default_str(prune::server::DefaultPgHelper());
  command->add_option("--data-dir", options->data_dir, "data folder of the embedded cluster")
      ->capture_default_str();
  command->add_option("--db-pool-size", options->pool_size, "database connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
}

}  // namespace

int main(int argc, char** argv) {
  // Blocked before any thread starts, so only serve's sigwait sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  CLI::App app{"pruned: the prune-service gRPC server"};
  app.require_subcommand(1);
  bool log_json = false;
  app.add_flag("--log-json", log_json, "log one JSON object per line");

  prune::server::ServeOptions serve;
  CLI::App* serve_command = app.add_subcommand("serve", "serve the gRPC API");
  serve_command->add_option("--listen", serve.listen_address, "host:port to listen on")
      ->envname(kEnvListen)
      ->capture_default_str();
  serve_command
      ->add_option("--token", serve.token,
                   "require 'authorization: Bearer <token>' on every RPC but health")
      ->envname(kEnvToken);
  serve_command
      ->add_option("--max-upload-bytes", serve.max_upload_bytes,
                   "largest accepted model or dataset file")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  CLI::Option* metrics_listen = serve_command->add_option(
      "--metrics-listen", serve.metrics_address,
      "host:port of the Prometheus /metrics endpoint ('off' disables; port 0 picks a free one)");
  metrics_listen->envname(kEnvMetricsListen)->capture_default_str();
  serve_command->add_flag("--log-json", log_json, "log one JSON object per line");
  AddDatabaseFlags(serve_command, &serve.database);

  prune::server::DatabaseOptions migrate;
  CLI::App* migrate_command = app.add_subcommand("migrate", "apply database migrations and exit");
  migrate_command->add_flag("--log-json", log_json, "log one JSON object per line");
  AddDatabaseFlags(migrate_command, &migrate);

  app.add_subcommand("version", "print the version and exit");

  CLI11_PARSE(app, argc, argv);
  prune::server::ConfigureLogging(log_json);
  serve.metrics_address_required = metrics_listen->count() > 0;

  if (app.got_subcommand("version")) {
    std::cout << "pruned " << PRUNE_VERSION << "\n";
    return EXIT_SUCCESS;
  }
  if (app.got_subcommand(migrate_command)) return prune::server::RunMigrate(migrate);
  return prune::server::RunServe(serve);
}
