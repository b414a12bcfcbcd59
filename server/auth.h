// Who is calling: maps a call's metadata to the tenant it acts for.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <grpcpp/support/string_ref.h>

#include "absl/status/statusor.h"

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

}  // namespace prune::server
