#include "output_format.h"

#include <gtest/gtest.h>

#include <sstream>

#include "report_summary.h"

namespace prune::client {
namespace {

TEST(OutputFormatTest, TableAlignsColumns) {
  Table table({"NAME", "STATE"});
  table.AddRow({"tenants/t/jobs/1", "RUNNING"});
  table.AddRow({"j", "QUEUED"});
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str(),
            "NAME              STATE\n"
            "tenants/t/jobs/1  RUNNING\n"
            "j                 QUEUED\n");
}

TEST(OutputFormatTest, FormatsUnits) {
  EXPECT_EQ(FormatBytes(812), "812 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(5 * (1 << 20) / 2), "2.50 MiB");
  EXPECT_EQ(FormatCount(40'600'000), "40.6M");
  EXPECT_EQ(FormatPercent(0.5), "50%");
  google::protobuf::Timestamp time;
  EXPECT_EQ(FormatTime(time), "-");
  time.set_seconds(1700000000);
  EXPECT_EQ(FormatTime(time), "2023-11-14 22:13:20Z");
}

TEST(ReportSummaryTest, PrintsBeforeAfterAndChange) {
  std::ostringstream out;
  ASSERT_TRUE(
      PrintReportSummary(R"({"before":{"macs":4e7,"params":2.7e5,"top1":91.5,"latency_ms":2.0,)"
                         R"("optimized_latency_ms":1.2},)"
                         R"("after":{"macs":2e7,"params":1.35e5,"top1":91.0,)"
                         R"("optimized_latency_ms":0.6}})",
                         out));
  EXPECT_EQ(out.str(),
            "METRIC                BEFORE  AFTER  CHANGE\n"
            "macs                  40M     20M    -50.0%\n"
            "params                270K    135K   -50.0%\n"
            "top1                  91.5    91     -0.5\n"
            "latency_ms            2       -      -\n"
            "optimized_latency_ms  1.2     0.6    -50.0%\n");
}

TEST(ReportSummaryTest, SaysWhyTheOptimizedLatencyIsMissing) {
  std::ostringstream out;
  ASSERT_TRUE(PrintReportSummary(
      R"({"before":{"macs":4e7},"after":{"macs":2e7},)"
      R"("optimized_latency_error":"torch.jit.optimize_for_inference changes this model's outputs"})",
      out));
  EXPECT_NE(out.str().find("optimized latency not measured: torch.jit.optimize_for_inference "
                           "changes this model's outputs\n"),
            std::string::npos)
      << out.str();
}

TEST(ReportSummaryTest, ShowsPredictedAndMeasuredLatencyRatio) {
  std::ostringstream out;
  ASSERT_TRUE(PrintReportSummary(
      R"({"before":{"macs":4e7},"after":{"macs":2e7},)"
      R"("latency_prediction":{"predicted_ratio":0.49,"measured_ratio":0.5312}})",
      out));
  EXPECT_NE(out.str().find("latency ratio: predicted 0.490, measured 0.531\n"), std::string::npos)
      << out.str();
}

TEST(ReportSummaryTest, RejectsNonReports) {
  std::ostringstream out;
  EXPECT_FALSE(PrintReportSummary("not json", out));
  EXPECT_FALSE(PrintReportSummary("{\"layers\":[]}", out));
  EXPECT_TRUE(out.str().empty());
}

}  // namespace
}  // namespace prune::client
