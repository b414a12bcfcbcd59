#include "target_parse.h"

#include <gtest/gtest.h>

namespace prune::client {
namespace {

TEST(TargetParseTest, ParsesFlopsParamsAndLatency) {
  absl::StatusOr<prune::v1::Target> flops = ParseTarget("flops=0.5");
  ASSERT_TRUE(flops.ok()) << flops.status();
  EXPECT_EQ(flops->kind(), prune::v1::Target::FLOPS);
  EXPECT_DOUBLE_EQ(flops->ratio(), 0.5);

  absl::StatusOr<prune::v1::Target> params = ParseTarget(" PARAMS = 0.25 ");
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_EQ(params->kind(), prune::v1::Target::PARAMS);
  EXPECT_DOUBLE_EQ(params->ratio(), 0.25);

  absl::StatusOr<prune::v1::Target> latency = ParseTarget("latency=0.5");
  ASSERT_TRUE(latency.ok()) << latency.status();
  EXPECT_EQ(latency->kind(), prune::v1::Target::LATENCY);
  EXPECT_DOUBLE_EQ(latency->ratio(), 0.5);
}

TEST(TargetParseTest, RejectsMalformedTargets) {
  for (const char* text :
       {"", "flops", "flops=", "flops=abc", "latncy=0.5", "flops=0", "flops=1", "flops=1.5",
        "flops=-0.1", "flops=nan", "=0.5", "latency=1", "latency=0"}) {
    EXPECT_EQ(ParseTarget(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(TargetParseTest, FormatsBack) {
  EXPECT_EQ(FormatTarget(*ParseTarget("flops=0.5")), "flops=0.5");
  EXPECT_EQ(FormatTarget(*ParseTarget("params=0.3")), "params=0.3");
  EXPECT_EQ(FormatTarget(*ParseTarget("latency=0.4")), "latency=0.4");
  EXPECT_EQ(FormatTarget(prune::v1::Target()), "-");
}

}  // namespace
}  // namespace prune::client
