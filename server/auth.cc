#include "server/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace prune::server {
namespace {

constexpr absl::string_view kBearerPrefix = "Bearer ";

}  // namespace

absl::StatusOr<std::string> AllowAllAuthenticator::Authenticate(const ClientMetadata&) const {
  return std::string(kDefaultTenant);
}

absl::StatusOr<std::string> BearerToken(const ClientMetadata& metadata,
                                        const char* missing_reason) {
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        absl::StrCat(missing_reason, ": missing 'authorization: Bearer <token>' metadata"));
  }
  const absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWithIgnoreCase(value, kBearerPrefix)) {
    return absl::UnauthenticatedError(
        absl::StrCat(missing_reason, ": the authorization metadata must be 'Bearer <token>'"));
  }
  const absl::string_view token = absl::StripAsciiWhitespace(value.substr(kBearerPrefix.size()));
  if (token.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat(missing_reason, ": the authorization metadata has an empty token"));
  }
  return std::string(token);
}

bool SecretsEqual(absl::string_view a, absl::string_view b) {
  unsigned char digest_a[EVP_MAX_MD_SIZE];
  unsigned char digest_b[EVP_MAX_MD_SIZE];
  unsigned int size_a = 0;
  unsigned int size_b = 0;
  EVP_Digest(a.data(), a.size(), digest_a, &size_a, EVP_sha256(), nullptr);
  EVP_Digest(b.data(), b.size(), digest_b, &size_b, EVP_sha256(), nullptr);
  return size_a == size_b && CRYPTO_memcmp(digest_a, digest_b, size_a) == 0;
}

absl::StatusOr<std::string> StaticTokenAuthenticator::Authenticate(
    const ClientMetadata& metadata) const {
  absl::StatusOr<std::string> token = BearerToken(metadata, "UNAUTHENTICATED");
  if (!token.ok()) return token.status();
  if (!SecretsEqual(*token, token_)) {
    return absl::UnauthenticatedError("UNAUTHENTICATED: invalid token");
  }
  return std::string(kDefaultTenant);
}

std::unique_ptr<Authenticator> MakeAuthenticator(const std::string& token) {
  if (token.empty()) return std::make_unique<AllowAllAuthenticator>();
  return std::make_unique<StaticTokenAuthenticator>(token);
}

absl::StatusOr<AuthMode> ChooseAuthMode(const std::string& flag, const std::string& token) {
  const std::string mode = absl::AsciiStrToLower(absl::StripAsciiWhitespace(flag));
  if (mode.empty()) return token.empty() ? AuthMode::kNone : AuthMode::kStatic;
  if (mode == "none") {
    if (!token.empty()) {
      return absl::InvalidArgumentError("--auth none contradicts --token (or PRUNE_TOKEN)");
    }
    return AuthMode::kNone;
  }
  if (mode == "static") {
    if (token.empty()) return absl::InvalidArgumentError("--auth static needs --token");
    return AuthMode::kStatic;
  }
  if (mode == "database") {
    if (!token.empty()) {
      return absl::InvalidArgumentError(
          "--auth database takes tokens from the database; drop --token (or PRUNE_TOKEN)");
    }
    return AuthMode::kDatabase;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--auth must be none, static or database, not '", flag, "'"));
}

const char* AuthModeName(AuthMode mode) {
  switch (mode) {
    case AuthMode::kNone:
      return "none";
    case AuthMode::kStatic:
      return "static";
    case AuthMode::kDatabase:
      return "database";
  }
  return "none";
}

}  // namespace prune::server
