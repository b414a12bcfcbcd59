// pruned: the prune-service gRPC front-end (docs/ARCHITECTURE.md).
#include <signal.h>

#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "common/log/logging.h"
#include "server/admin_command.h"
#include "server/serve_command.h"

namespace {

// Flags fall back to these environment variables.
constexpr char kEnvListen[] = "PRUNE_LISTEN";
constexpr char kEnvDatabaseUrl[] = "PRUNE_DATABASE_URL";
constexpr char kEnvPgHelper[] = "PRUNE_PG_HELPER";
constexpr char kEnvToken[] = "PRUNE_TOKEN";
constexpr char kEnvMetricsListen[] = "PRUNE_METRICS_LISTEN";
constexpr char kEnvAuth[] = "PRUNE_AUTH";

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
      ->add_option("--auth", serve.auth_mode,
                   "none | static (--token, tenant 'default') | database (tokens issued with "
                   "'pruned admin token issue'); default: static with --token, else none")
      ->envname(kEnvAuth)
      ->check(CLI::IsMember({"none", "static", "database"}));
  double token_cache_seconds = 5;
  serve_command
      ->add_option("--token-cache-seconds", token_cache_seconds,
                   "--auth database: reuse a successful token lookup this long (a revoked token "
                   "stops working within it)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 60.0));
  serve_command
      ->add_option("--max-upload-bytes", serve.max_upload_bytes,
                   "largest accepted model or dataset file")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_command->add_option("--tls-cert", serve.tls.cert_file,
                            "PEM certificate chain: serve gRPC over TLS (with --tls-key)");
  serve_command->add_option("--tls-key", serve.tls.key_file, "PEM private key of --tls-cert");
  serve_command->add_option("--tls-client-ca", serve.tls.client_ca_file,
                            "PEM CA bundle: require client certificates signed by it (mutual TLS)");
  double upload_ttl_seconds = 24 * 3600;
  serve_command
      ->add_option("--upload-ttl-seconds", upload_ttl_seconds,
                   "a broken upload stays resumable this long after its last received chunk, "
                   "then its staged bytes are purged")
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

  // pruned admin tenant create|list|set-quota, pruned admin token issue|list|revoke
  prune::server::DatabaseOptions admin_database;
  CLI::App* admin = app.add_subcommand("admin", "manage tenants, API tokens and quotas");
  admin->require_subcommand(1);
  admin->add_flag("--log-json", log_json, "log one JSON object per line");
  CLI::App* tenant = admin->add_subcommand("tenant", "tenants and their quotas");
  tenant->require_subcommand(1);
  CLI::App* token = admin->add_subcommand("token", "API tokens (--auth database)");
  token->require_subcommand(1);
  std::string tenant_name;
  std::string token_name;
  std::string token_id;
  prune::server::QuotaFlags quota;
  CLI::App* tenant_create = tenant->add_subcommand("create", "create a tenant");
  tenant_create->add_option("NAME", tenant_name, "tenant name: a-z, 0-9, '-'")->required();
  CLI::App* tenant_list = tenant->add_subcommand("list", "list tenants and their quotas");
  CLI::App* tenant_quota =
      tenant->add_subcommand("set-quota", "change a tenant's quotas ('unlimited' lifts one)");
  tenant_quota->add_option("NAME", tenant_name, "tenant")->required();
  tenant_quota->add_option("--max-queued-jobs", quota.max_queued_jobs,
                           "most queued jobs; CreateJob beyond it is RESOURCE_EXHAUSTED");
  tenant_quota->add_option("--max-running-jobs", quota.max_running_jobs,
                           "most running jobs; further jobs wait in the queue");
  tenant_quota->add_option("--max-stored-bytes", quota.max_stored_bytes,
                           "most bytes of live models + datasets; uploads beyond it fail");
  CLI::App* token_issue = token->add_subcommand("issue", "issue a token; prints it once");
  token_issue->add_option("--tenant", tenant_name, "tenant the token acts for")->required();
  token_issue->add_option("--name", token_name, "label, unique among the tenant's live tokens")
      ->required();
  CLI::App* token_list = token->add_subcommand("list", "list a tenant's tokens (never secrets)");
  token_list->add_option("--tenant", tenant_name, "tenant")->required();
  CLI::App* token_revoke = token->add_subcommand("revoke", "revoke a token by id");
  token_revoke->add_option("ID", token_id, "token id (from issue or list)")->required();
  for (CLI::App* command :
       {tenant_create, tenant_list, tenant_quota, token_issue, token_list, token_revoke}) {
    command->add_flag("--log-json", log_json, "log one JSON object per line");
    AddDatabaseFlags(command, &admin_database);
  }

  app.add_subcommand("version", "print the version and exit");

  CLI11_PARSE(app, argc, argv);
  prune::log::ConfigureLogging("server", log_json);
  serve.metrics_address_required = metrics_listen->count() > 0;

  if (app.got_subcommand("version")) {
    std::cout << "pruned " << PRUNE_VERSION << "\n";
    return EXIT_SUCCESS;
  }
  if (app.got_subcommand(migrate_command)) return prune::server::RunMigrate(migrate);
  if (tenant_create->parsed()) {
    return prune::server::RunAdminTenantCreate(admin_database, tenant_name);
  }
  if (tenant_list->parsed()) return prune::server::RunAdminTenantList(admin_database);
  if (tenant_quota->parsed()) {
    return prune::server::RunAdminTenantSetQuota(admin_database, tenant_name, quota);
  }
  if (token_issue->parsed()) {
    return prune::server::RunAdminTokenIssue(admin_database, tenant_name, token_name);
  }
  if (token_list->parsed()) return prune::server::RunAdminTokenList(admin_database, tenant_name);
  if (token_revoke->parsed()) return prune::server::RunAdminTokenRevoke(admin_database, token_id);
  serve.token_cache_ttl = absl::Seconds(token_cache_seconds);
  serve.upload_ttl = absl::Seconds(upload_ttl_seconds);
  return prune::server::RunServe(serve);
}
