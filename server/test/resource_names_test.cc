#include "server/resource_names.h"

#include <gtest/gtest.h>

namespace prune::server {
namespace {

TEST(ResourceNames, FormatAndParseRoundTrip) {
  const std::string name = FormatResourceName("acme", kJobs, "1234");
  EXPECT_EQ(name, "tenants/acme/jobs/1234");
  absl::StatusOr<ResourceName> parsed = ParseResourceName(name, kJobs);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->tenant, "acme");
  EXPECT_EQ(parsed->collection, "jobs");
  EXPECT_EQ(parsed->id, "1234");
}

TEST(ResourceNames, RejectsMalformedNames) {
  for (const char* bad :
       {"", "tenants", "tenants/acme", "tenants/acme/jobs", "tenants//jobs/1", "tenants/acme/jobs/",
        "tenants/acme/models/1", "projects/acme/jobs/1", "tenants/acme/jobs/1/extra"}) {
    absl::StatusOr<ResourceName> parsed = ParseResourceName(bad, kJobs);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(parsed.status().message().substr(0, 22), "INVALID_RESOURCE_NAME:") << bad;
  }
}

TEST(ResourceNames, ResolveAcceptsNameIdOrDisplayName) {
  EXPECT_EQ(*ResolveReference("tenants/t/models/abc", "t", kModels, "MODEL_NOT_FOUND"), "abc");
  EXPECT_EQ(*ResolveReference("abc", "t", kModels, "MODEL_NOT_FOUND"), "abc");
  EXPECT_EQ(*ResolveReference("my resnet", "t", kModels, "MODEL_NOT_FOUND"), "my resnet");
}

TEST(ResourceNames, ResolveHidesOtherTenants) {
  absl::StatusOr<std::string> other =
      ResolveReference("tenants/other/models/abc", "t", kModels, "MODEL_NOT_FOUND");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(other.status().message().substr(0, 16), "MODEL_NOT_FOUND:");
}

TEST(ResourceNames, ResolveRejectsEmptyAndWrongCollection) {
  EXPECT_EQ(ResolveReference("", "t", kModels, "MODEL_NOT_FOUND").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveReference("tenants/t/jobs/1", "t", kModels, "MODEL_NOT_FOUND").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Found by tests/fuzz/request_validation_fuzzer: "abc\0x" reached the database
// as "abc" (text parameters are C strings).
TEST(ResourceNames, ResolveControlCharactersNameNothing) {
  for (const std::string bad : {std::string("abc\0x", 5), std::string("tenants/t/models/a\0b", 20),
                                std::string("my\nmodel")}) {
    absl::StatusOr<std::string> key = ResolveReference(bad, "t", kModels, "MODEL_NOT_FOUND");
    EXPECT_EQ(key.status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(key.status().message().substr(0, 16), "MODEL_NOT_FOUND:");
  }
}

}  // namespace
}  // namespace prune::server
