// Who is calling: maps a call's metadata to the tenant it acts for.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <grpcpp/support/string_ref.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prune::server {

inline constexpr char kDefaultTenant[] = "default";

using ClientMetadata = std::multimap<grpc::string_ref, grpc::string_ref>;

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // The caller's tenant, or UNAUTHENTICATED ("UNAUTHENTICATED: ...").
  virtual absl::StatusOr<std::string> Authenticate(const ClientMetadata& metadata) const = 0;
};

// No authentication: every caller is the single tenant "default".
class AllowAllAuthenticator : public Authenticator {
 public:
  absl::StatusOr<std::string> Authenticate(const ClientMetadata& metadata) const override;
};

// v0: one static bearer token ("authorization: Bearer <token>") for the
// tenant "default". Tokens per tenant from the tokens table come later.
class StaticTokenAuthenticator : public Authenticator {
 public:
  explicit StaticTokenAuthenticator(std::string token) : token_(std::move(token)) {}
  absl::StatusOr<std::string> Authenticate(const ClientMetadata& metadata) const override;

 private:
  std::string token_;
};

// StaticTokenAuthenticator when `token` is non-empty, else AllowAllAuthenticator.
std::unique_ptr<Authenticator> MakeAuthenticator(const std::string& token);

// `pruned serve --auth`: none (every caller is "default"), static (--token,
// tenant "default"), database (tokens table, tenant from the token;
// DatabaseAuthenticator).
enum class AuthMode { kNone, kStatic, kDatabase };

// The mode for `--auth flag` and `--token token`: an empty flag means static
// when a token is given, else none. Contradictions (none or database with a
// token, static without one) and unknown names are INVALID_ARGUMENT.
absl::StatusOr<AuthMode> ChooseAuthMode(const std::string& flag, const std::string& token);
const char* AuthModeName(AuthMode mode);

// The token of "authorization: Bearer <token>", or UNAUTHENTICATED
// "<missing_reason>: ..." when the metadata is absent, not Bearer, or empty.
absl::StatusOr<std::string> BearerToken(const ClientMetadata& metadata, const char* missing_reason);

// Constant-time comparison of two secrets (CRYPTO_memcmp of their sha256, so
// neither content nor length leaks through timing).
bool SecretsEqual(absl::string_view a, absl::string_view b);

}  // namespace prune::server
