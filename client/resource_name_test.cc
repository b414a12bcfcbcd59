#include "resource_name.h"

#include <gtest/gtest.h>

namespace prune::client {
namespace {

TEST(ResourceNameTest, ParsesFullNames) {
  absl::StatusOr<ResourceName> name = ParseResourceName("tenants/acme/jobs/42");
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(name->tenant, "acme");
  EXPECT_EQ(name->collection, "jobs");
  EXPECT_EQ(name->id, "42");
}

TEST(ResourceNameTest, RejectsMalformedNames) {
  for (const char* text : {"tenants/acme/jobs", "tenants//jobs/1", "tenant/a/jobs/1",
                           "tenants/a/jobs/1/x", "tenants/a/jobs/", "/tenants/a/jobs/1"}) {
    EXPECT_FALSE(ParseResourceName(text).ok()) << text;
  }
}

TEST(ResourceNameTest, AcceptsBareReferencesAndMatchingNames) {
  EXPECT_EQ(*CheckReference("resnet20", "models"), "resnet20");
  EXPECT_EQ(*CheckReference("tenants/t/models/m1", "models"), "tenants/t/models/m1");
  EXPECT_EQ(*CheckReference("0b5e7f", "jobs"), "0b5e7f");
}

TEST(ResourceNameTest, RejectsWrongCollectionOrEmpty) {
  EXPECT_EQ(CheckReference("tenants/t/models/m1", "jobs").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(CheckReference("", "jobs").ok());
  EXPECT_FALSE(CheckReference("a/b", "jobs").ok());
}

TEST(ResourceNameTest, ShortNameIsLastSegment) {
  EXPECT_EQ(ShortName("tenants/t/jobs/abc"), "abc");
  EXPECT_EQ(ShortName("abc"), "abc");
}

}  // namespace
}  // namespace prune::client
