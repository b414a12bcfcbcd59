#include "common/metrics/text_format.h"

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/metrics/promtool_check.h"
#include "gtest/gtest.h"

namespace prune::metrics {
namespace {

// One parsed sample line of the exposition: the invariants below are checked
// on the text itself, not on the snapshot it came from.
struct ParsedSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in text order, unescaped
  std::string value;
  std::string SeriesKey() const {
    std::string key = name;
    for (const auto& [k, v] : labels) key += "|" + k + "=" + v;
    return key;
  }
  std::string Label(const std::string& key) const {
    for (const auto& [k, v] : labels) {
      if (k == key) return v;
    }
    return "<missing>";
  }
};

ParsedSample ParseSampleLine(const std::string& line) {
  ParsedSample sample;
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') sample.name.push_back(line[i++]);
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      std::string key;
      while (line[i] != '=') key.push_back(line[i++]);
      i += 2;  // ="
      std::string value;
      while (line[i] != '"') {
        if (line[i] == '\\') {
          ++i;
          value.push_back(line[i] == 'n' ? '\n' : line[i]);
        } else {
          value.push_back(line[i]);
        }
        ++i;
      }
      ++i;  // closing quote
      if (line[i] == ',') ++i;
      sample.labels.emplace_back(key, value);
    }
    ++i;  // }
  }
  EXPECT_EQ(line[i], ' ') << line;
  sample.value = line.substr(i + 1);
  return sample;
}

std::vector<ParsedSample> ParseSamples(const std::string& text) {
  std::vector<ParsedSample> samples;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (line[0] == '#') continue;
    samples.push_back(ParseSampleLine(std::string(line)));
  }
  return samples;
}

double ToDouble(const std::string& text) {
  if (text == "+Inf") return std::numeric_limits<double>::infinity();
  double value = 0;
  EXPECT_TRUE(absl::SimpleAtod(text, &value)) << text;
  return value;
}

class TextFormatTest : public ::testing::Test {
 protected:
  TextFormatTest() {
    rpc_ = *registry_.AddCounter("prune_rpc_requests_total", "RPCs by method and code.",
                                 {"method", "code"});
    latency_ = *registry_.AddHistogram("prune_rpc_duration_seconds", "RPC latency.", {"method"},
                                       {0.01, 0.1, 1, 10});
    jobs_ = *registry_.AddCallbackGauge("prune_jobs", "Jobs by state.", {"state"});
    busy_ = &(*registry_.AddGauge("prune_worker_busy", "Busy flag."))->WithLabels({});
  }

  Registry registry_;
  CounterFamily* rpc_;
  HistogramFamily* latency_;
  CallbackGaugeFamily* jobs_;
  Gauge* busy_;
};

TEST(FormatValueTest, SpellsSpecialValuesAndIntegers) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(-0.0), "0");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(-7), "-7");
  EXPECT_EQ(FormatValue(1e15), "1000000000000000");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(2.5), "2.5");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  for (double v : {0.1 + 0.2, 1e-9, 123456.789, 1e300, -3.25e-7, 1.7976931348623157e308}) {
    double parsed = 0;
    ASSERT_TRUE(absl::SimpleAtod(FormatValue(v), &parsed)) << FormatValue(v);
    EXPECT_EQ(parsed, v) << FormatValue(v);
  }
}

TEST(EscapeTest, HelpAndLabelValues) {
  EXPECT_EQ(EscapeHelp("a\\b\nc \"q\""), "a\\\\b\\nc \"q\"");
  EXPECT_EQ(EscapeLabelValue("a\\b\nc \"q\""), "a\\\\b\\nc \\\"q\\\"");
}

TEST_F(TextFormatTest, ExactOutputForASmallRegistry) {
  Registry registry;
  CounterFamily* c = *registry.AddCounter("a_total", "Line one\nback\\slash.", {"k"});
  c->WithLabels({"say \"hi\"\n\\"}).Increment(3);
  Histogram& h = (*registry.AddHistogram("b_seconds", "B.", {}, {0.5, 1}))->WithLabels({});
  h.Observe(0.25);
  h.Observe(0.75);
  h.Observe(3);
  EXPECT_EQ(FormatText(registry),
            "# HELP a_total Line one\\nback\\\\slash.\n"
            "# TYPE a_total counter\n"
            "a_total{k=\"say \\\"hi\\\"\\n\\\\\"} 3\n"
            "# HELP b_seconds B.\n"
            "# TYPE b_seconds histogram\n"
            "b_seconds_bucket{le=\"0.5\"} 1\n"
            "b_seconds_bucket{le=\"1\"} 2\n"
            "b_seconds_bucket{le=\"+Inf\"} 3\n"
            "b_seconds_sum 4\n"
            "b_seconds_count 3\n");
}

TEST_F(TextFormatTest, HistogramInvariants) {
  const std::vector<double> observations = {0.005, 0.05, 0.05, 0.5, 5, 50, 0.01, 10};
  double expected_sum = 0;
  for (double v : observations) {
    latency_->WithLabels({"CreateJob"}).Observe(v);
    expected_sum += v;
  }
  latency_->WithLabels({"GetJob"}).Observe(0.02);

  const std::vector<ParsedSample> samples = ParseSamples(FormatText(registry_));
  std::map<std::string, std::vector<std::pair<double, double>>> buckets;  // method -> (le, n)
  std::map<std::string, double> sums, counts;
  for (const ParsedSample& s : samples) {
    if (s.name == "prune_rpc_duration_seconds_bucket") {
      ASSERT_EQ(s.labels.back().first, "le");
      buckets[s.Label("method")].emplace_back(ToDouble(s.Label("le")), ToDouble(s.value));
    } else if (s.name == "prune_rpc_duration_seconds_sum") {
      sums[s.Label("method")] = ToDouble(s.value);
    } else if (s.name == "prune_rpc_duration_seconds_count") {
      counts[s.Label("method")] = ToDouble(s.value);
    }
  }
  ASSERT_EQ(buckets.size(), 2u);
  for (const auto& [method, series] : buckets) {
    ASSERT_EQ(series.size(), 5u) << method;  // 4 bounds + +Inf
    for (size_t i = 1; i < series.size(); ++i) {
      EXPECT_LT(series[i - 1].first, series[i].first) << method;
      EXPECT_LE(series[i - 1].second, series[i].second) << method << " not cumulative";
    }
    EXPECT_TRUE(std::isinf(series.back().first));
    EXPECT_EQ(series.back().second, counts.at(method)) << method << ": +Inf != _count";
  }
  EXPECT_EQ(counts["CreateJob"], observations.size());
  EXPECT_DOUBLE_EQ(sums["CreateJob"], expected_sum);
  // Bucket contents: <=0.01: 0.005, 0.01; <=0.1: +0.05 x2; <=1: +0.5; <=10: +5, 10; +Inf: +50.
  const std::vector<std::pair<double, double>>& create = buckets["CreateJob"];
  EXPECT_EQ(create[0].second, 2);
  EXPECT_EQ(create[1].second, 4);
  EXPECT_EQ(create[2].second, 5);
  EXPECT_EQ(create[3].second, 7);
  EXPECT_EQ(create[4].second, 8);
}

TEST_F(TextFormatTest, OrderIsSortedAndStable) {
  // Insert in scrambled order.
  for (const char* method : {"Watch", "CreateJob", "GetJob", "Cancel"}) {
    for (const char* code : {"OK", "NOT_FOUND", "INTERNAL"}) rpc_->WithLabels({method, code});
  }
  jobs_->SetCallback([] {
    return std::vector<Sample>{{{"SUCCEEDED"}, 1}, {{"QUEUED"}, 3}, {{"RUNNING"}, 2}};
  });
  busy_->Set(1);
  const std::string first = FormatText(registry_);
  EXPECT_EQ(first, FormatText(registry_));

  std::vector<std::string> family_order;
  for (absl::string_view line : absl::StrSplit(first, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "# TYPE ")) {
      const std::string rest(line.substr(7));
      family_order.push_back(rest.substr(0, rest.find(' ')));
    }
  }
  EXPECT_EQ(family_order, (std::vector<std::string>{"prune_jobs", "prune_rpc_requests_total",
                                                    "prune_worker_busy"}));
  std::vector<std::vector<std::string>> rpc_labels, job_labels;
  for (const ParsedSample& s : ParseSamples(first)) {
    if (s.name == "prune_rpc_requests_total")
      rpc_labels.push_back({s.Label("method"), s.Label("code")});
    if (s.name == "prune_jobs") job_labels.push_back({s.Label("state")});
  }
  EXPECT_EQ(rpc_labels.size(), 12u);
  EXPECT_TRUE(std::is_sorted(rpc_labels.begin(), rpc_labels.end()));
  EXPECT_EQ(job_labels,
            (std::vector<std::vector<std::string>>{{"QUEUED"}, {"RUNNING"}, {"SUCCEEDED"}}));
}

TEST_F(TextFormatTest, NoDuplicateSeriesAndHelpTypeBeforeSamples) {
  rpc_->WithLabels({"A", "OK"}).Increment();
  rpc_->WithLabels({"A", "OK"}).Increment();
  rpc_->WithLabels({"A", "INTERNAL"}).Increment();
  latency_->WithLabels({"A"}).Observe(1);
  jobs_->SetCallback([] { return std::vector<Sample>{{{"QUEUED"}, 1}, {{"QUEUED"}, 2}}; });
  const std::string text = FormatText(registry_);

  std::set<std::string> series;
  std::set<std::string> declared;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "# HELP ")) continue;
    if (absl::StartsWith(line, "# TYPE ")) {
      const std::string family(line.substr(7, line.substr(7).find(' ')));
      EXPECT_TRUE(declared.insert(family).second) << "TYPE twice: " << family;
      continue;
    }
    const ParsedSample s = ParseSampleLine(std::string(line));
    EXPECT_TRUE(series.insert(s.SeriesKey()).second) << "duplicate series: " << line;
    bool has_family = false;
    for (const std::string& family : declared) {
      if (absl::StartsWith(s.name, family)) has_family = true;
    }
    EXPECT_TRUE(has_family) << "sample before its TYPE line: " << line;
  }
  EXPECT_EQ(text.back(), '\n');
}

TEST_F(TextFormatTest, SpecialValuesPassPromtool) {
  if (testing::PromtoolPath().empty()) {
    testing::PrintLoudPromtoolMissing();
    GTEST_SKIP() << "promtool not installed";
  }
  Registry registry;
  GaugeFamily* g = *registry.AddGauge("odd_values", "Odd values, label \"escapes\".", {"k"});
  g->WithLabels({"nan"}).Set(std::nan(""));
  g->WithLabels({"inf"}).Set(std::numeric_limits<double>::infinity());
  g->WithLabels({"-inf"}).Set(-std::numeric_limits<double>::infinity());
  g->WithLabels({"tiny"}).Set(1e-300);
  g->WithLabels({"quote\"back\\slash\nnewline"}).Set(1);
  g->WithLabels({"caf\xC3\xA9 \xFF"}).Set(2);
  const testing::PromtoolResult result = testing::RunPromtoolCheckMetrics(FormatText(registry));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "");
}

}  // namespace
}  // namespace prune::metrics
