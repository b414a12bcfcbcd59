// Tenants, their API tokens and their quotas (the admin side of issue 5).
// Only a token's sha256 is stored; the plaintext is returned once by
// IssueToken and never again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace prune::db {

class ConnectionPool;

inline constexpr char kTokenPrefix[] = "prn_";

struct TokenRecord {
  std::string id;  // uuid text
  std::string tenant;
  std::string name;
  absl::Time created_at;
  std::optional<absl::Time> revoked_at;  // set: the token no longer authenticates
};

struct IssuedToken {
  TokenRecord record;
  std::string plaintext;  // "prn_" + 64 hex digits; shown once
};

// Limits of one tenant; nullopt = unlimited.
struct TenantQuota {
  std::optional<int64_t> max_queued_jobs;
  std::optional<int64_t> max_running_jobs;
  std::optional<int64_t> max_stored_bytes;
};

// Which quota fields SetQuota changes: an unset outer optional leaves the
// column as it is; an inner nullopt makes it unlimited.
struct QuotaUpdate {
  std::optional<std::optional<int64_t>> max_queued_jobs;
  std::optional<std::optional<int64_t>> max_running_jobs;
  std::optional<std::optional<int64_t>> max_stored_bytes;
};

// hex(sha256(secret)) of a presented token, or INVALID_ARGUMENT when the text
// is not "prn_" + 64 hex digits.
absl::StatusOr<std::string> TokenHash(const std::string& plaintext);

// True when `name` can be a tenant: 1-63 of [a-z0-9-], starting with a letter
// or digit (it becomes part of resource names tenants/{tenant}/...).
bool IsValidTenantName(const std::string& name);

class TokenStore {
 public:
  explicit TokenStore(ConnectionPool* pool);

  // ALREADY_EXISTS ("TENANT_EXISTS: ...") when it exists; INVALID_ARGUMENT for
  // a bad name. The tenant gets the default quotas of the schema.
  absl::Status CreateTenant(const std::string& name);
  absl::StatusOr<std::vector<std::string>> ListTenants();

  // NOT_FOUND ("TENANT_NOT_FOUND: ...") for an unknown tenant; ALREADY_EXISTS
  // when the tenant has a live token with this name.
  absl::StatusOr<IssuedToken> IssueToken(const std::string& tenant, const std::string& name);
  // Oldest first, revoked ones included. Never returns secrets or hashes.
  absl::StatusOr<std::vector<TokenRecord>> ListTokens(const std::string& tenant);
  // Idempotent (the first revocation time is kept). NOT_FOUND
  // ("TOKEN_NOT_FOUND: ...") for an unknown id.
  absl::StatusOr<TokenRecord> RevokeToken(const std::string& id);
  // The token with this hash, revoked or not; NOT_FOUND when there is none.
  absl::StatusOr<TokenRecord> LookupToken(const std::string& token_hash);
  // The tenant of a live (not revoked) token with this hash; NOT_FOUND otherwise.
  absl::StatusOr<std::string> TenantForToken(const std::string& token_hash);
  // True when at least one live token exists.
  absl::StatusOr<bool> AnyLiveToken();

  absl::StatusOr<TenantQuota> GetQuota(const std::string& tenant);
  absl::StatusOr<TenantQuota> SetQuota(const std::string& tenant, const QuotaUpdate& update);

 private:
  ConnectionPool* pool_;
};

}  // namespace prune::db
