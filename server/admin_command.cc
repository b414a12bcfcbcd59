#include "server/admin_command.h"

#include <cstdint>
#include <iostream>
#include <optional>

#include <spdlog/spdlog.h>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/db/token_store.h"

namespace prune::server {
namespace {

int Fail(const absl::Status& status) {
  spdlog::error("{}", status.ToString());
  return 1;
}

std::string FormatUtc(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

std::string FormatLimit(const std::optional<int64_t>& limit) {
  return limit.has_value() ? std::to_string(*limit) : "unlimited";
}

// nullopt outer: unchanged; nullopt inner: unlimited.
absl::StatusOr<std::optional<std::optional<int64_t>>> ParseLimit(const std::string& flag,
                                                                 const std::string& text) {
  const std::string value = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (value.empty()) return std::optional<std::optional<int64_t>>();
  if (value == "unlimited" || value == "none") {
    return std::optional<std::optional<int64_t>>(std::optional<int64_t>());
  }
  int64_t limit = 0;
  if (!absl::SimpleAtoi(value, &limit) || limit < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " must be a non-negative integer or 'unlimited', not '", text, "'"));
  }
  return std::optional<std::optional<int64_t>>(std::optional<int64_t>(limit));
}

}  // namespace

int RunAdminTenantCreate(const DatabaseOptions& database, const std::string& name) {
  return WithDatabase(database, [&](db::ConnectionPool* pool) {
    db::TokenStore tokens(pool);
    if (absl::Status s = tokens.CreateTenant(name); !s.ok()) return Fail(s);
    std::cout << name << "\n";
    return 0;
  });
}

int RunAdminTenantList(const DatabaseOptions& database) {
  return WithDatabase(database, [&](db::ConnectionPool* pool) {
    db::TokenStore tokens(pool);
    absl::StatusOr<std::vector<std::string>> names = tokens.ListTenants();
    if (!names.ok()) return Fail(names.status());
    for (const std::string& name : *names) {
      absl::StatusOr<db::TenantQuota> quota = tokens.GetQuota(name);
      if (!quota.ok()) return Fail(quota.status());
      std::cout << name << "\tmax_queued_jobs=" << FormatLimit(quota->max_queued_jobs)
                << "\tmax_running_jobs=" << FormatLimit(quota->max_running_jobs)
                << "\tmax_stored_bytes=" << FormatLimit(quota->max_stored_bytes) << "\n";
    }
    return 0;
  });
}

int RunAdminTenantSetQuota(const DatabaseOptions& database, const std::string& name,
                           const QuotaFlags& flags) {
  db::QuotaUpdate update;
  auto queued = ParseLimit("--max-queued-jobs", flags.max_queued_jobs);
  auto running = ParseLimit("--max-running-jobs", flags.max_running_jobs);
  auto stored = ParseLimit("--max-stored-bytes", flags.max_stored_bytes);
  for (const auto* parsed : {&queued, &running, &stored}) {
    if (!parsed->ok()) return Fail(parsed->status());
  }
  update.max_queued_jobs = *queued;
  update.max_running_jobs = *running;
  update.max_stored_bytes = *stored;
  return WithDatabase(database, [&](db::ConnectionPool* pool) {
    db::TokenStore tokens(pool);
    absl::StatusOr<db::TenantQuota> quota = tokens.SetQuota(name, update);
    if (!quota.ok()) return Fail(quota.status());
    std::cout << name << "\tmax_queued_jobs=" << FormatLimit(quota->max_queued_jobs)
              << "\tmax_running_jobs=" << FormatLimit(quota->max_running_jobs)
              << "\tmax_stored_bytes=" << FormatLimit(quota->max_stored_bytes) << "\n";
    return 0;
  });
}

int RunAdminTokenIssue(const DatabaseOptions& database, const std::string& tenant,
                       const std::string& name) {
  return WithDatabase(database, [&](db::ConnectionPool* pool) {
    db::TokenStore tokens(pool);
    absl::StatusOr<db::IssuedToken> issued = tokens.IssueToken(tenant, name);
    if (!issued.ok()) return Fail(issued.status());
    spdlog::info("issued token {} ('{}') for tenant '{}'; it is shown only now", issued->record.id,
                 name, tenant);
    std::cout << issued->plaintext << std::endl;
    return 0;
  });
}

int RunAdminTokenList(const DatabaseOptions& database, const std::string& tenant) {
  return WithDatabase(database, [&](db::ConnectionPool* pool) {
    db::TokenStore tokens(pool);
    absl::StatusOr<std::vector<db::TokenRecord>> listed = tokens.ListTokens(tenant);
    if (!listed.ok()) return Fail(listed.status());
    std::cout << "ID\tNAME\tCREATED\tREVOKED\n";
    for (const db::TokenRecord& token : *listed) {
      std::cout << token.id << "\t" << token.name << "\t" << FormatUtc(token.created_at) << "\t"
                << (token.revoked_at ? FormatUtc(*token.revoked_at) : "-") << "\n";
    }
    return 0;
  });
}

int RunAdminTokenRevoke(const DatabaseOptions& database, const std::string& id) {
  return WithDatabase(database, [&](db::ConnectionPool* pool) {
    db::TokenStore tokens(pool);
    absl::StatusOr<db::TokenRecord> revoked = tokens.RevokeToken(id);
    if (!revoked.ok()) return Fail(revoked.status());
    std::cout << revoked->id << "\trevoked " << FormatUtc(*revoked->revoked_at) << "\n";
    return 0;
  });
}

}  // namespace prune::server
