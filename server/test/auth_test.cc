#include "server/auth.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

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

TEST(Auth, ChooseAuthModeDefaultsAndContradictions) {
  EXPECT_EQ(*ChooseAuthMode("", ""), AuthMode::kNone);
  EXPECT_EQ(*ChooseAuthMode("", "t"), AuthMode::kStatic);
  EXPECT_EQ(*ChooseAuthMode("none", ""), AuthMode::kNone);
  EXPECT_EQ(*ChooseAuthMode("static", "t"), AuthMode::kStatic);
  EXPECT_EQ(*ChooseAuthMode("database", ""), AuthMode::kDatabase);
  EXPECT_EQ(*ChooseAuthMode("Database", ""), AuthMode::kDatabase);
  for (const auto& [flag, token] : std::vector<std::pair<std::string, std::string>>{
           {"none", "t"}, {"static", ""}, {"database", "t"}, {"ldap", ""}}) {
    EXPECT_EQ(ChooseAuthMode(flag, token).status().code(), absl::StatusCode::kInvalidArgument)
        << flag << " " << token;
  }
}

TEST(Auth, BearerTokenReasons) {
  EXPECT_EQ(*BearerToken(WithAuthorization("Bearer  abc "), "TOKEN_MISSING"), "abc");
  for (const ClientMetadata& metadata :
       {ClientMetadata{}, WithAuthorization("Basic abc"), WithAuthorization("Bearer ")}) {
    absl::StatusOr<std::string> token = BearerToken(metadata, "TOKEN_MISSING");
    EXPECT_EQ(token.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(token.status().message().substr(0, 14), "TOKEN_MISSING:");
  }
}

TEST(Auth, SecretsEqual) {
  EXPECT_TRUE(SecretsEqual("s3cret", "s3cret"));
  EXPECT_FALSE(SecretsEqual("s3cret", "s3cre"));
  EXPECT_FALSE(SecretsEqual("s3cret", "s3cret2"));
  EXPECT_FALSE(SecretsEqual("", "x"));
  EXPECT_TRUE(SecretsEqual("", ""));
}

}  // namespace
}  // namespace prune::server
