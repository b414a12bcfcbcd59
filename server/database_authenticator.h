// `pruned serve --auth database`: bearer tokens issued by `pruned admin token
// issue`, looked up by their sha256 in the tokens table; the tenant comes
// from the token.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/db/token_store.h"
#include "server/auth.h"

namespace prune::server {

struct DatabaseAuthenticatorOptions {
  // How long a successful lookup is reused. A revoked token keeps working on
  // a server that cached it for at most this long. Zero: no cache.
  absl::Duration cache_ttl = absl::Seconds(5);
  // The cache is emptied when it reaches this many tokens.
  size_t max_cache_entries = 10000;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

// UNAUTHENTICATED with a reason: "TOKEN_MISSING" (no or malformed
// authorization metadata), "TOKEN_INVALID" (not a prune token, or unknown),
// "TOKEN_REVOKED". A database error passes through (UNAVAILABLE, ...).
// Failed lookups are never cached.
//
// Timing: the lookup is an index search for sha256(secret), so what a timing
// side channel could reveal is a prefix of a hash of 256 random bits, which
// helps nobody guess a token; the static mode compares with CRYPTO_memcmp.
class DatabaseAuthenticator : public Authenticator {
 public:
  // `tokens` must outlive the authenticator.
  explicit DatabaseAuthenticator(db::TokenStore* tokens, DatabaseAuthenticatorOptions options = {});
  absl::StatusOr<std::string> Authenticate(const ClientMetadata& metadata) const override;

 private:
  struct CacheEntry {
    std::string tenant;
    absl::Time expires;
  };

  db::TokenStore* tokens_;
  DatabaseAuthenticatorOptions options_;
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, CacheEntry> cache_;  // by token hash
};

}  // namespace prune::server
