#include "common/metrics/registry.h"

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace prune::metrics {
namespace {

TEST(RegistryTest, ValidatesMetricNames) {
  EXPECT_TRUE(IsValidMetricName("prune_jobs"));
  EXPECT_TRUE(IsValidMetricName("_x:y_1"));
  EXPECT_TRUE(IsValidMetricName(":recording:rule"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("1abc"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_FALSE(IsValidMetricName("a b"));
  EXPECT_FALSE(IsValidMetricName("caf\xC3\xA9"));

  Registry registry;
  EXPECT_EQ(registry.AddCounter("bad-name", "help").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RegistryTest, ValidatesLabelNames) {
  EXPECT_TRUE(IsValidLabelName("method"));
  EXPECT_TRUE(IsValidLabelName("_x1"));
  EXPECT_FALSE(IsValidLabelName("__name__"));
  EXPECT_FALSE(IsValidLabelName("__x"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName("9a"));
  EXPECT_FALSE(IsValidLabelName(""));

  Registry registry;
  EXPECT_FALSE(registry.AddCounter("a_total", "h", {"__reserved"}).ok());
  EXPECT_FALSE(registry.AddCounter("b_total", "h", {"code", "code"}).ok());
  EXPECT_FALSE(registry.AddHistogram("c_seconds", "h", {"le"}, {1.0}).ok());
  EXPECT_TRUE(registry.AddCounter("d_total", "h", {"le"}).ok());  // only histograms reserve le
}

TEST(RegistryTest, RequiresUtf8Help) {
  Registry registry;
  EXPECT_FALSE(registry.AddGauge("a", "").ok());
  EXPECT_FALSE(registry.AddGauge("b", "bad \xFF byte").ok());
  EXPECT_TRUE(registry.AddGauge("c", "caf\xC3\xA9").ok());
}

TEST(RegistryTest, RejectsDuplicateAndCollidingNames) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("x_total", "h").ok());
  EXPECT_EQ(registry.AddCounter("x_total", "h").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.AddGauge("x_total", "h").status().code(), absl::StatusCode::kAlreadyExists);

  ASSERT_TRUE(registry.AddHistogram("latency_seconds", "h", {}, {1.0}).ok());
  EXPECT_EQ(registry.AddCounter("latency_seconds_count", "h").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.AddGauge("latency_seconds_bucket", "h").status().code(),
            absl::StatusCode::kAlreadyExists);

  ASSERT_TRUE(registry.AddGauge("queue_sum", "h").ok());
  EXPECT_EQ(registry.AddHistogram("queue", "h", {}, {1.0}).status().code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(registry.AddCallbackGauge("depth", "h").ok());
  EXPECT_EQ(registry.AddCallbackGauge("depth", "h").status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(RegistryTest, WithLabelsReturnsStableChildren) {
  Registry registry;
  CounterFamily* family = *registry.AddCounter("rpc_total", "h", {"method", "code"});
  Counter& a = family->WithLabels({"Get", "OK"});
  Counter& b = family->WithLabels({"Get", "OK"});
  EXPECT_EQ(&a, &b);
  for (int i = 0; i < 1000; ++i) family->WithLabels({"M" + std::to_string(i), "OK"});
  EXPECT_EQ(&a, &family->WithLabels({"Get", "OK"}));
  a.Increment(2);
  EXPECT_EQ(b.Value(), 2);
}

TEST(RegistryTest, WrongLabelArityIsAnErrorAndNeverExported) {
  Registry registry;
  CounterFamily* family = *registry.AddCounter("rpc_total", "h", {"method"});
  EXPECT_EQ(family->TryWithLabels({"a", "b"}).status().code(), absl::StatusCode::kInvalidArgument);
  family->WithLabels({}).Increment();
  family->WithLabels({"a", "b"}).Increment();
  EXPECT_TRUE(registry.Collect().empty());
}

TEST(RegistryTest, CounterIgnoresNegativeAndNan) {
  Registry registry;
  Counter& counter = (*registry.AddCounter("c_total", "h"))->WithLabels({});
  counter.Increment();
  counter.Increment(2.5);
  counter.Increment(-1);
  counter.Increment(std::nan(""));
  EXPECT_EQ(counter.Value(), 3.5);
}

TEST(RegistryTest, GaugeSetIncrementDecrement) {
  Registry registry;
  Gauge& gauge = (*registry.AddGauge("g", "h"))->WithLabels({});
  gauge.Set(10);
  gauge.Increment(2);
  gauge.Decrement(5);
  gauge.Decrement();
  EXPECT_EQ(gauge.Value(), 6);
}

TEST(RegistryTest, HistogramBucketsAreLessOrEqual) {
  Registry registry;
  Histogram& h = (*registry.AddHistogram("h_seconds", "h", {}, {1, 2, 5}))->WithLabels({});
  for (double v : {0.5, 1.0, 1.5, 2.0, 4.0, 5.0, 100.0}) h.Observe(v);
  h.Observe(std::nan(""));
  const Histogram::Snapshot s = h.TakeSnapshot();
  EXPECT_EQ(s.cumulative_counts, (std::vector<std::uint64_t>{2, 4, 6, 7}));
  EXPECT_DOUBLE_EQ(s.sum, 114.0);
}

TEST(RegistryTest, BucketValidation) {
  EXPECT_FALSE(NormalizeBuckets({1, 1}).ok());
  EXPECT_FALSE(NormalizeBuckets({2, 1}).ok());
  EXPECT_FALSE(NormalizeBuckets({1, std::nan("")}).ok());
  EXPECT_FALSE(NormalizeBuckets({-std::numeric_limits<double>::infinity(), 1}).ok());
  EXPECT_FALSE(NormalizeBuckets({std::numeric_limits<double>::infinity(), 1}).ok());
  EXPECT_EQ(*NormalizeBuckets({1, 2, std::numeric_limits<double>::infinity()}),
            (std::vector<double>{1, 2}));
  EXPECT_TRUE(NormalizeBuckets({}).ok());

  Registry registry;
  EXPECT_EQ(registry.AddHistogram("bad_seconds", "h", {}, {3, 2}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RegistryTest, BucketHelpers) {
  EXPECT_EQ(*ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_FALSE(ExponentialBuckets(0, 2, 4).ok());
  EXPECT_FALSE(ExponentialBuckets(1, 1, 4).ok());
  EXPECT_FALSE(ExponentialBuckets(1, 2, 0).ok());
  EXPECT_EQ(*LinearBuckets(0, 0.5, 3), (std::vector<double>{0, 0.5, 1}));
  EXPECT_FALSE(LinearBuckets(0, 0, 3).ok());

  for (const std::vector<double>& buckets : {RpcDurationBuckets(), LongDurationBuckets()}) {
    EXPECT_TRUE(NormalizeBuckets(buckets).ok());
  }
  EXPECT_DOUBLE_EQ(LongDurationBuckets().front(), 0.1);
  EXPECT_DOUBLE_EQ(LongDurationBuckets().back(), 4 * 3600.0);
}

TEST(RegistryTest, CallbackGaugeComputesAtCollectTime) {
  Registry registry;
  CallbackGaugeFamily* jobs = *registry.AddCallbackGauge("jobs", "h", {"state"});
  EXPECT_TRUE(registry.Collect().empty());
  int calls = 0;
  jobs->SetCallback([&calls] {
    ++calls;
    return std::vector<Sample>{{{"RUNNING"}, 2},
                               {{"QUEUED"}, 5},
                               {{"QUEUED"}, 99},       // duplicate: first wins
                               {{"too", "many"}, 1}};  // wrong arity: dropped
  });
  std::vector<FamilySnapshot> snapshot = registry.Collect();
  ASSERT_EQ(snapshot.size(), 1u);
  ASSERT_EQ(snapshot[0].samples.size(), 2u);
  EXPECT_EQ(snapshot[0].samples[0].label_values, LabelValues{"QUEUED"});
  EXPECT_EQ(snapshot[0].samples[0].value, 5);
  EXPECT_EQ(snapshot[0].samples[1].label_values, LabelValues{"RUNNING"});
  EXPECT_EQ(calls, 1);
  jobs->ClearCallback();
  EXPECT_TRUE(registry.Collect().empty());
  EXPECT_EQ(calls, 1);
}

TEST(RegistryTest, InvalidUtf8LabelValuesAreRepaired) {
  Registry registry;
  CounterFamily* family = *registry.AddCounter("c_total", "h", {"kind"});
  family
      ->WithLabels({"a\xFF"
                    "b"})
      .Increment();
  family
      ->WithLabels({"a\xEF\xBF\xBD"
                    "b"})
      .Increment();  // same after repair
  family->WithLabels({"caf\xC3\xA9"}).Increment();
  std::vector<FamilySnapshot> snapshot = registry.Collect();
  ASSERT_EQ(snapshot[0].samples.size(), 2u);
  EXPECT_EQ(snapshot[0].samples[0].label_values[0],
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(snapshot[0].samples[0].value, 2);
  EXPECT_EQ(snapshot[0].samples[1].label_values[0], "caf\xC3\xA9");
}

TEST(RegistryTest, ConcurrentUpdatesAddUpExactly) {
  Registry registry;
  CounterFamily* counters = *registry.AddCounter("c_total", "h", {"method"});
  Gauge& gauge = (*registry.AddGauge("g", "h"))->WithLabels({});
  Histogram& histogram = (*registry.AddHistogram("h_seconds", "h", {}, {0.5, 1.5}))->WithLabels({});
  constexpr int kThreads = 8;
  constexpr int kIterations = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        // Looking the child up every time also races child creation.
        counters->WithLabels({"shared"}).Increment();
        counters->WithLabels({"m" + std::to_string(i % 16)}).Increment(0.5);
        gauge.Increment();
        if (t % 2 == 0) gauge.Decrement(2);
        histogram.Observe(i % 2);
        if (i % 1000 == 0) registry.Collect();  // scrapes race updates
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(counters->WithLabels({"shared"}).Value(), kThreads * kIterations);
  double spread = 0;
  for (int m = 0; m < 16; ++m) spread += counters->WithLabels({"m" + std::to_string(m)}).Value();
  EXPECT_EQ(spread, kThreads * kIterations * 0.5);
  EXPECT_EQ(gauge.Value(), kThreads * kIterations - (kThreads / 2) * kIterations * 2);
  const Histogram::Snapshot s = histogram.TakeSnapshot();
  EXPECT_EQ(s.cumulative_counts.back(), static_cast<std::uint64_t>(kThreads * kIterations));
  EXPECT_EQ(s.cumulative_counts[0], static_cast<std::uint64_t>(kThreads * kIterations / 2));
  EXPECT_EQ(s.sum, kThreads * kIterations / 2);
}

}  // namespace
}  // namespace prune::metrics
