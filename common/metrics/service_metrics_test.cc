#include "common/metrics/service_metrics.h"

#include "absl/strings/match.h"
#include "common/metrics/promtool_check.h"
#include "common/metrics/text_format.h"
#include "gtest/gtest.h"

namespace prune::metrics {
namespace {

TEST(ServiceMetricsTest, ServerAndWorkerShareOneRegistryWithoutClashes) {
  Registry registry;
  ASSERT_TRUE(ServerMetrics::Create(registry).ok());
  ASSERT_TRUE(WorkerMetrics::Create(registry).ok());
  // Registering the same set twice is an error, not a silent second copy.
  EXPECT_EQ(ServerMetrics::Create(registry).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST(ServiceMetricsTest, NamesFollowConventions) {
  Registry registry;
  ASSERT_TRUE(ServerMetrics::Create(registry).ok());
  WorkerMetrics worker = *WorkerMetrics::Create(registry);
  for (const FamilySnapshot& family : registry.Collect()) {
    EXPECT_TRUE(absl::StartsWith(family.name, "prune_")) << family.name;
    EXPECT_EQ(family.type == MetricType::kCounter, absl::EndsWith(family.name, "_total"))
        << family.name;
    if (family.type == MetricType::kHistogram) {
      // Base units only: durations in seconds, sizes in bytes.
      EXPECT_TRUE(absl::EndsWith(family.name, "_seconds") || absl::EndsWith(family.name, "_bytes"))
          << family.name;
    }
    for (const std::string& label : family.label_names) {
      EXPECT_NE(label, "job_id");
      EXPECT_NE(label, "model_id");
    }
  }
  // Job-level histograms reach hours.
  worker.job_queue_wait->Observe(1);
  EXPECT_GE(worker.job_queue_wait->upper_bounds().back(), 4 * 3600.0);
}

TEST(ServiceMetricsTest, FreshExpositionPassesPromtool) {
  if (testing::PromtoolPath().empty()) {
    testing::PrintLoudPromtoolMissing();
    GTEST_SKIP() << "promtool not installed";
  }
  Registry registry;
  ServerMetrics server = *ServerMetrics::Create(registry);
  ASSERT_TRUE(WorkerMetrics::Create(registry).ok());
  server.jobs->SetCallback([] { return std::vector<Sample>{{{"QUEUED"}, 0}}; });
  const testing::PromtoolResult result = testing::RunPromtoolCheckMetrics(FormatText(registry));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "");
}

// Guards the guard: the promtool checks above would be worthless if lint
// problems passed silently.
TEST(ServiceMetricsTest, PromtoolCheckReportsNamingProblems) {
  if (testing::PromtoolPath().empty()) {
    testing::PrintLoudPromtoolMissing();
    GTEST_SKIP() << "promtool not installed";
  }
  Registry registry;
  (*registry.AddCounter("prune_requests", "Counter without the _total suffix."))
      ->WithLabels({})
      .Increment();
  const testing::PromtoolResult result = testing::RunPromtoolCheckMetrics(FormatText(registry));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(result.output, "_total")) << result.output;
}

}  // namespace
}  // namespace prune::metrics
