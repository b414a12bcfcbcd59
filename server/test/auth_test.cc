#include "server/auth.h"

#include <gtest/gtest.h>

namespace prune::server {
namespace {

ClientMetadata WithAuthorization(const std::string& value) {
  ClientMetadata metadata;
  metadata.emplace("authorization", value);
  return metadata;
}

TEST(Auth, AllowAllIsTheDefaultTenant) {
  EXPECT_EQ(*MakeAuthenticator("")->Authenticate({}), kDefaultTenant);
}

TEST(Auth, StaticTokenAcceptsTheBearerToken) {
  const std::unique_ptr<Authenticator> auth = MakeAuthenticator("s3cret");
  const std::string header = "Bearer s3cret";
  EXPECT_EQ(*auth->Authenticate(WithAuthorization(header)), kDefaultTenant);
}

TEST(Auth, StaticTokenRejectsMissingMalformedAndWrongTokens) {
  const std::unique_ptr<Authenticator> auth = MakeAuthenticator("s3cret");
  const std::string wrong = "Bearer s3cre";
  const std::string longer = "Bearer s3cret2";
  const std::string basic = "Basic s3cret";
  const std::string empty = "Bearer ";
  for (const ClientMetadata& metadata :
       {ClientMetadata{}, WithAuthorization(wrong), WithAuthorization(longer),
        WithAuthorization(basic), WithAuthorization(empty)}) {
    absl::StatusOr<std::string> tenant = auth->Authenticate(metadata);
    EXPECT_EQ(tenant.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(tenant.status().message().substr(0, 16), "UNAUTHENTICATED:");
  }
}

}  // namespace
}  // namespace prune::server
