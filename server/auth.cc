#include "server/auth.h"

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace prune::server {
namespace {

constexpr absl::string_view kBearerPrefix = "Bearer ";

// Compares without an early exit so response timing does not leak how much of
// a guessed token was right.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    const char expected = b.empty() ? '\0' : b[i % b.size()];
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(expected);
  }
  return diff == 0;
}

}  // namespace

absl::StatusOr<std::string> AllowAllAuthenticator::Authenticate(const ClientMetadata&) const {
  return std::string(kDefaultTenant);
}

absl::StatusOr<std::string> StaticTokenAuthenticator::Authenticate(
    const ClientMetadata& metadata) const {
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "UNAUTHENTICATED: missing 'authorization: Bearer <token>' metadata");
  }
  const absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWithIgnoreCase(value, kBearerPrefix)) {
    return absl::UnauthenticatedError(
        "UNAUTHENTICATED: the authorization metadata must be 'Bearer <token>'");
  }
  const absl::string_view token = absl::StripAsciiWhitespace(value.substr(kBearerPrefix.size()));
  if (!ConstantTimeEquals(token, token_)) {
    return absl::UnauthenticatedError("UNAUTHENTICATED: invalid token");
  }
  return std::string(kDefaultTenant);
}

std::unique_ptr<Authenticator> MakeAuthenticator(const std::string& token) {
  if (token.empty()) return std::make_unique<AllowAllAuthenticator>();
  return std::make_unique<StaticTokenAuthenticator>(token);
}

}  // namespace prune::server
