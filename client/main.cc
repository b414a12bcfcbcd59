// prunectl: command-line client of prune-service.
#include <chrono>
#include <iostream>

#include <CLI/CLI.hpp>

#include "command_context.h"
#include "dataset_commands.h"
#include "exit_codes.h"
#include "health_command.h"
#include "job_commands.h"
#include "model_commands.h"

namespace {

std::chrono::milliseconds Seconds(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

}  // namespace

int main(int argc, char** argv) {
  using prune::client::CommandContext;
  using prune::client::ConnectionOptions;
  CommandContext context;

  CLI::App app{"prunectl: upload models and datasets, run pruning jobs, fetch results"};
  app.require_subcommand(1);
  // Global flags may also follow the command: `prunectl job list --json`.
  app.fallthrough();
  app.add_option("--server", context.connection_options.server, "Server address host:port")
      ->envname("PRUNE_SERVER")
      ->capture_default_str();
  app.add_option("--token", context.connection_options.token,
                 "Bearer token (sent as authorization metadata)")
      ->envname("PRUNE_TOKEN");
  app.add_flag("--insecure", context.connection_options.insecure,
               "Plaintext connection (the default when no --tls-* flag is given)");
  ConnectionOptions::Tls& tls = context.connection_options.tls;
  app.add_option("--tls-ca", tls.ca_file, "TLS: PEM CA bundle that signed the server certificate")
      ->envname("PRUNE_TLS_CA");
  app.add_option("--tls-cert", tls.cert_file, "TLS: PEM client certificate (mutual TLS)")
      ->envname("PRUNE_TLS_CERT");
  app.add_option("--tls-key", tls.key_file, "TLS: PEM private key of --tls-cert")
      ->envname("PRUNE_TLS_KEY");
  app.add_option("--tls-server-name", tls.server_name,
                 "TLS: name to expect in the server certificate instead of the --server host");
  app.add_flag("--json", context.json, "Machine-readable output: one JSON document per line");
  app.add_option_function<double>(
         "--timeout",
         [&](const double& s) { context.connection_options.unary_timeout = Seconds(s); },
         "Deadline of simple calls, seconds")
      ->check(CLI::PositiveNumber)
      ->default_str("30");
  app.add_option_function<double>(
         "--transfer-timeout",
         [&](const double& s) { context.connection_options.transfer_timeout = Seconds(s); },
         "Deadline of an upload or download, seconds")
      ->check(CLI::PositiveNumber)
      ->default_str("3600");

  int exit_code = prune::client::kExitOk;
  prune::client::AddModelCommands(app, context, exit_code);
  prune::client::AddDatasetCommands(app, context, exit_code);
  prune::client::AddJobCommands(app, context, exit_code);
  prune::client::AddHealthCommand(app, context, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int cli_code = app.exit(e);
    return cli_code == 0 ? prune::client::kExitOk : prune::client::kExitUsage;
  }
  return exit_code;
}
