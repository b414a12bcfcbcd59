#include "server/database_authenticator.h"

#include <utility>

#include "absl/status/status.h"

namespace prune::server {

DatabaseAuthenticator::DatabaseAuthenticator(db::TokenStore* tokens,
                                             DatabaseAuthenticatorOptions options)
    : tokens_(tokens), options_(std::move(options)) {}

absl::StatusOr<std::string> DatabaseAuthenticator::Authenticate(
    const ClientMetadata& metadata) const {
  absl::StatusOr<std::string> token = BearerToken(metadata, "TOKEN_MISSING");
  if (!token.ok()) return token.status();
  absl::StatusOr<std::string> hash = db::TokenHash(*token);
  if (!hash.ok()) {
    return absl::UnauthenticatedError(
        "TOKEN_INVALID: not a prune token ('prn_' followed by 64 hex digits)");
  }
  const bool use_cache = options_.cache_ttl > absl::ZeroDuration();
  if (use_cache) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = cache_.find(*hash);
    if (it != cache_.end()) {
      if (options_.clock() < it->second.expires) return it->second.tenant;
      cache_.erase(it);
    }
  }
  absl::StatusOr<db::TokenRecord> record = tokens_->LookupToken(*hash);
  if (!record.ok()) {
    if (record.status().code() == absl::StatusCode::kNotFound) {
      return absl::UnauthenticatedError("TOKEN_INVALID: unknown token");
    }
    return record.status();
  }
  if (record->revoked_at.has_value()) {
    return absl::UnauthenticatedError("TOKEN_REVOKED: this token was revoked");
  }
  if (use_cache) {
    std::lock_guard<std::mutex> lock(mu_);
    if (cache_.size() >= options_.max_cache_entries) cache_.clear();
    cache_[*hash] = CacheEntry{record->tenant, options_.clock() + options_.cache_ttl};
  }
  return record->tenant;
}

}  // namespace prune::server
