// `pruned admin`: tenants, their API tokens and quotas (for --auth database).
// Results go to stdout (a token's plaintext only once, at issue); errors to
// the log on stderr. Every command returns the process exit code.
#pragma once

#include <string>

#include "server/serve_command.h"

namespace prune::server {

// Quota flags as given: empty = leave unchanged, "unlimited" (or "none") =
// no limit, else a non-negative integer.
struct QuotaFlags {
  std::string max_queued_jobs;
  std::string max_running_jobs;
  std::string max_stored_bytes;
};

int RunAdminTenantCreate(const DatabaseOptions& database, const std::string& name);
int RunAdminTenantList(const DatabaseOptions& database);
int RunAdminTenantSetQuota(const DatabaseOptions& database, const std::string& name,
                           const QuotaFlags& flags);
// Prints the token (one line, "prn_..."); its id goes to stderr.
int RunAdminTokenIssue(const DatabaseOptions& database, const std::string& tenant,
                       const std::string& name);
// One line per token: id, name, created, revoked ("-" when live), tab-separated.
int RunAdminTokenList(const DatabaseOptions& database, const std::string& tenant);
int RunAdminTokenRevoke(const DatabaseOptions& database, const std::string& id);

}  // namespace prune::server
