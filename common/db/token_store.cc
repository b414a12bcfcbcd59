#include "common/db/token_store.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/db/connection.h"
#include "common/db/connection_pool.h"
#include "common/db/job_rows.h"

namespace prune::db {
namespace {

constexpr size_t kSecretBytes = 32;

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), size));
}

bool IsLowerHex(absl::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string TokenColumns() {
  return absl::StrCat("id, tenant, name, ", Micros("created_at"), ", ", Micros("revoked_at"));
}

TokenRecord TokenFromRow(const Result& rows, int row) {
  TokenRecord token;
  token.id = rows.Text(row, 0);
  token.tenant = rows.Text(row, 1);
  token.name = rows.Text(row, 2);
  token.created_at = rows.TimeFromMicros(row, 3);
  token.revoked_at = rows.OptionalTimeFromMicros(row, 4);
  return token;
}

std::optional<int64_t> OptionalInt(const Result& rows, int row, int col) {
  if (rows.IsNull(row, col)) return std::nullopt;
  return rows.Int64(row, col);
}

absl::Status TenantNotFound(const std::string& tenant) {
  return absl::NotFoundError(absl::StrCat("TENANT_NOT_FOUND: no tenant '", tenant, "'"));
}

}  // namespace

absl::StatusOr<std::string> TokenHash(const std::string& plaintext) {
  const absl::string_view prefix = kTokenPrefix;
  if (!absl::StartsWith(plaintext, prefix) ||
      plaintext.size() != prefix.size() + 2 * kSecretBytes ||
      !IsLowerHex(absl::string_view(plaintext).substr(prefix.size()))) {
    return absl::InvalidArgumentError("TOKEN_INVALID: not a prune token (prn_ + 64 hex digits)");
  }
  return Sha256Hex(absl::HexStringToBytes(plaintext.substr(prefix.size())));
}

bool IsValidTenantName(const std::string& name) {
  if (name.empty() || name.size() > 63 || name.front() == '-') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

TokenStore::TokenStore(ConnectionPool* pool) : pool_(pool) {}

absl::Status TokenStore::CreateTenant(const std::string& name) {
  if (!IsValidTenantName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("TENANT_NAME_INVALID: '", name,
                     "' must be 1-63 of a-z, 0-9 and '-', not starting with '-'"));
  }
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> inserted =
      (*conn)->Exec("INSERT INTO tenants (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", {name});
  if (!inserted.ok()) return inserted.status();
  if (inserted->affected_rows() == 0) {
    return absl::AlreadyExistsError(absl::StrCat("TENANT_EXISTS: tenant '", name, "' exists"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> TokenStore::ListTenants() {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> rows = (*conn)->Exec("SELECT name FROM tenants ORDER BY name");
  if (!rows.ok()) return rows.status();
  std::vector<std::string> names;
  for (int i = 0; i < rows->rows(); ++i) names.push_back(rows->Text(i, 0));
  return names;
}

absl::StatusOr<IssuedToken> TokenStore::IssueToken(const std::string& tenant,
                                                   const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("TOKEN_NAME_INVALID: the name is empty");
  unsigned char secret[kSecretBytes];
  if (RAND_bytes(secret, sizeof(secret)) != 1) {
    return absl::InternalError("RANDOM_UNAVAILABLE: RAND_bytes failed");
  }
  const std::string secret_bytes(reinterpret_cast<const char*>(secret), sizeof(secret));
  IssuedToken issued;
  issued.plaintext = absl::StrCat(kTokenPrefix, absl::BytesToHexString(secret_bytes));
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> row =
      (*conn)->Exec(absl::StrCat("INSERT INTO tokens (tenant, name, token_hash)"
                                 " SELECT name, $2, $3 FROM tenants WHERE name = $1 RETURNING ",
                                 TokenColumns()),
                    {tenant, name, Sha256Hex(secret_bytes)});
  if (!row.ok()) {
    if (row.status().code() == absl::StatusCode::kAlreadyExists) {
      return absl::AlreadyExistsError(
          absl::StrCat("TOKEN_EXISTS: tenant '", tenant, "' has a live token named '", name, "'"));
    }
    return row.status();
  }
  if (row->rows() == 0) return TenantNotFound(tenant);
  issued.record = TokenFromRow(*row, 0);
  return issued;
}

absl::StatusOr<std::vector<TokenRecord>> TokenStore::ListTokens(const std::string& tenant) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> exists = (*conn)->Exec("SELECT 1 FROM tenants WHERE name = $1", {tenant});
  if (!exists.ok()) return exists.status();
  if (exists->rows() == 0) return TenantNotFound(tenant);
  absl::StatusOr<Result> rows =
      (*conn)->Exec(absl::StrCat("SELECT ", TokenColumns(),
                                 " FROM tokens WHERE tenant = $1 ORDER BY created_at, id"),
                    {tenant});
  if (!rows.ok()) return rows.status();
  std::vector<TokenRecord> tokens;
  for (int i = 0; i < rows->rows(); ++i) tokens.push_back(TokenFromRow(*rows, i));
  return tokens;
}

absl::StatusOr<TokenRecord> TokenStore::RevokeToken(const std::string& id) {
  const absl::Status not_found =
      absl::NotFoundError(absl::StrCat("TOKEN_NOT_FOUND: no token '", id, "'"));
  if (!LooksLikeUuid(id)) return not_found;
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> row =
      (*conn)->Exec(absl::StrCat("UPDATE tokens SET revoked_at = coalesce(revoked_at, now())"
                                 " WHERE id = $1::uuid RETURNING ",
                                 TokenColumns()),
                    {id});
  if (!row.ok()) return row.status();
  if (row->rows() == 0) return not_found;
  return TokenFromRow(*row, 0);
}

absl::StatusOr<TokenRecord> TokenStore::LookupToken(const std::string& token_hash) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> row = (*conn)->Exec(
      absl::StrCat("SELECT ", TokenColumns(), " FROM tokens WHERE token_hash = $1"), {token_hash});
  if (!row.ok()) return row.status();
  if (row->rows() == 0) return absl::NotFoundError("TOKEN_NOT_FOUND: no such token");
  return TokenFromRow(*row, 0);
}

absl::StatusOr<std::string> TokenStore::TenantForToken(const std::string& token_hash) {
  absl::StatusOr<TokenRecord> token = LookupToken(token_hash);
  if (!token.ok()) return token.status();
  if (token->revoked_at.has_value()) return absl::NotFoundError("TOKEN_NOT_FOUND: token revoked");
  return token->tenant;
}

absl::StatusOr<bool> TokenStore::AnyLiveToken() {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> row =
      (*conn)->Exec("SELECT EXISTS (SELECT 1 FROM tokens WHERE revoked_at IS NULL)");
  if (!row.ok()) return row.status();
  return row->Bool(0, 0);
}

absl::StatusOr<TenantQuota> TokenStore::GetQuota(const std::string& tenant) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> row = (*conn)->Exec(
      "SELECT max_queued_jobs, max_running_jobs, max_stored_bytes FROM tenants WHERE name = $1",
      {tenant});
  if (!row.ok()) return row.status();
  if (row->rows() == 0) return TenantNotFound(tenant);
  return TenantQuota{OptionalInt(*row, 0, 0), OptionalInt(*row, 0, 1), OptionalInt(*row, 0, 2)};
}

absl::StatusOr<TenantQuota> TokenStore::SetQuota(const std::string& tenant,
                                                 const QuotaUpdate& update) {
  // $2/$4/$6: whether to change the column; $3/$5/$7: the new value (NULL = unlimited).
  auto changed = [](const auto& field) { return Param::Bool(field.has_value()); };
  auto value = [](const auto& field) -> Param {
    if (!field.has_value() || !field->has_value()) return std::nullopt;
    return static_cast<int64_t>(**field);
  };
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> row = (*conn)->Exec(
      "UPDATE tenants SET"
      " max_queued_jobs = CASE WHEN $2::boolean THEN $3::integer ELSE max_queued_jobs END,"
      " max_running_jobs = CASE WHEN $4::boolean THEN $5::integer ELSE max_running_jobs END,"
      " max_stored_bytes = CASE WHEN $6::boolean THEN $7::bigint ELSE max_stored_bytes END"
      " WHERE name = $1 RETURNING max_queued_jobs, max_running_jobs, max_stored_bytes",
      {tenant, changed(update.max_queued_jobs), value(update.max_queued_jobs),
       changed(update.max_running_jobs), value(update.max_running_jobs),
       changed(update.max_stored_bytes), value(update.max_stored_bytes)});
  if (!row.ok()) return row.status();
  if (row->rows() == 0) return TenantNotFound(tenant);
  return TenantQuota{OptionalInt(*row, 0, 0), OptionalInt(*row, 0, 1), OptionalInt(*row, 0, 2)};
}

}  // namespace prune::db
