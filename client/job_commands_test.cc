#include "job_commands.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <sstream>

#include "exit_codes.h"
#include "fake_prune_service.h"

namespace prune::client {
namespace {

using prune::v1::Job;

class JobCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    context_.connection_options.server = server_.address();
    context_.out = &out_;
    context_.err = &err_;
    context_.retry.sleep = [](std::chrono::milliseconds) {};
    service_.job.set_name("tenants/t/jobs/j1");
    args_.model = "lenet";
    args_.dataset = "fmnist";
    args_.target = "flops=0.5";
  }

  void ScriptEnd(Job::State state) {
    service_.job.set_state(state);
    service_.watch_scripts = {
        {MakeEvent(1, Job::QUEUED, 0, "queued"), MakeEvent(2, Job::RUNNING, 0.5, "half")},
        {MakeEvent(3, state, 1, "end")}};
  }

  FakePruneService service_;
  FakeServer server_{&service_};
  std::ostringstream out_;
  std::ostringstream err_;
  CommandContext context_;
  JobCreateArgs args_;
};

TEST_F(JobCommandsTest, CreatePrintsNameAndSendsParameters) {
  args_.finetune_epochs = 2;
  args_.seed = 9;
  EXPECT_EQ(RunJobCreate(context_, args_), kExitOk);
  EXPECT_EQ(out_.str(), "tenants/t/jobs/j1\n");
  std::lock_guard<std::mutex> lock(service_.mu);
  ASSERT_EQ(service_.create_requests.size(), 1u);
  const auto& request = service_.create_requests[0];
  EXPECT_EQ(request.job().model(), "lenet");
  EXPECT_EQ(request.job().dataset(), "fmnist");
  EXPECT_EQ(request.job().target().kind(), prune::v1::Target::FLOPS);
  EXPECT_EQ(request.job().strategy(), prune::v1::UNIFORM);
  EXPECT_EQ(request.job().finetune().epochs(), 2);
  EXPECT_EQ(request.job().seed(), 9u);
  EXPECT_TRUE(std::regex_match(
      request.request_id(),
      std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << request.request_id();
}

TEST_F(JobCommandsTest, RetriesUnavailableWithTheSameRequestId) {
  service_.create_unavailable_failures = 2;
  EXPECT_EQ(RunJobCreate(context_, args_), kExitOk);
  std::lock_guard<std::mutex> lock(service_.mu);
  ASSERT_EQ(service_.create_requests.size(), 3u);
  EXPECT_EQ(service_.create_requests[0].request_id(), service_.create_requests[2].request_id());
}

TEST_F(JobCommandsTest, BadTargetIsAUsageErrorWithoutAnRpc) {
  args_.target = "flops=2";
  EXPECT_EQ(RunJobCreate(context_, args_), kExitUsage);
  EXPECT_NE(err_.str().find("usage error"), std::string::npos);
  std::lock_guard<std::mutex> lock(service_.mu);
  EXPECT_TRUE(service_.create_requests.empty());
}

TEST_F(JobCommandsTest, WaitExitsWithJobFailedAndPrintsTheError) {
  ScriptEnd(Job::FAILED);
  service_.job.set_error_reason("MODEL_LOAD_FAILED");
  service_.job.set_error("not a TorchScript archive");
  args_.wait = true;
  EXPECT_EQ(RunJobCreate(context_, args_), kExitJobFailed);
  EXPECT_NE(err_.str().find("FAILED: MODEL_LOAD_FAILED: not a TorchScript archive"),
            std::string::npos)
      << err_.str();
  EXPECT_NE(out_.str().find("half"), std::string::npos) << out_.str();
  std::lock_guard<std::mutex> lock(service_.mu);
  EXPECT_EQ(service_.watch_after_sequences, (std::vector<int64_t>{0, 2}));
}

TEST_F(JobCommandsTest, WaitExitsWithJobCancelled) {
  ScriptEnd(Job::CANCELLED);
  args_.wait = true;
  EXPECT_EQ(RunJobCreate(context_, args_), kExitJobCancelled);
}

TEST_F(JobCommandsTest, WaitSucceedsAndPrintsReportSummary) {
  ScriptEnd(Job::SUCCEEDED);
  service_.job.set_report_json(
      R"({"before":{"macs":2000000,"params":60000,"top1":0.91,"latency_ms":2.0},)"
      R"("after":{"macs":1000000,"params":30000,"top1":0.90,"latency_ms":1.5}})");
  args_.wait = true;
  EXPECT_EQ(RunJobCreate(context_, args_), kExitOk);
  EXPECT_NE(out_.str().find("-50.0%"), std::string::npos) << out_.str();
  EXPECT_TRUE(err_.str().empty()) << err_.str();
}

TEST_F(JobCommandsTest, JsonWaitPrintsOneDocumentPerLine) {
  ScriptEnd(Job::SUCCEEDED);
  context_.json = true;
  args_.wait = true;
  EXPECT_EQ(RunJobCreate(context_, args_), kExitOk);
  std::istringstream lines(out_.str());
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_EQ(line.back(), '}') << line;
  }
  EXPECT_EQ(count, 5);  // created job, 3 events, final job
}

TEST_F(JobCommandsTest, CandidatesPrintsEveryPageAsATable) {
  for (int i = 0; i < 3; ++i) {
    prune::v1::Candidate c;
    c.set_index(i * 2);
    c.set_macs(1000000 - 100000 * i);
    c.set_params(5000 - 1000 * i);
    c.set_score(0.9 - 0.1 * i);
    c.set_feasible(i > 0);
    c.set_pareto(i != 1);
    service_.candidates.push_back(c);
  }
  EXPECT_EQ(RunJobCandidates(context_, "tenants/t/jobs/j1", false), kExitOk);
  const std::string out = out_.str();
  EXPECT_EQ(out.rfind("INDEX", 0), 0u) << out;
  EXPECT_NE(out.find("PARETO"), std::string::npos);
  EXPECT_NE(out.find("0.7000"), std::string::npos) << out;  // the third, on page 2
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4) << out;
  std::lock_guard<std::mutex> lock(service_.mu);
  ASSERT_EQ(service_.candidates_requests.size(), 2u);
  EXPECT_FALSE(service_.candidates_requests[0].pareto_only());
  EXPECT_EQ(service_.candidates_requests[1].page_token(), "2");
}

TEST_F(JobCommandsTest, CandidatesParetoOnlyJson) {
  prune::v1::Candidate c;
  c.set_index(3);
  c.set_pareto(true);
  service_.candidates = {prune::v1::Candidate(), c};
  context_.json = true;
  EXPECT_EQ(RunJobCandidates(context_, "tenants/t/jobs/j1", true), kExitOk);
  const std::string out = out_.str();
  EXPECT_NE(out.find("\"index\":\"3\""), std::string::npos) << out;
  EXPECT_EQ(out.find("\"index\":\"0\""), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

TEST_F(JobCommandsTest, WatchOfUnreachableServerExitsUnavailable) {
  context_.connection_options.server = "127.0.0.1:1";
  context_.retry.max_retries = 1;
  EXPECT_EQ(RunJobWatch(context_, "j1"), kExitUnavailable);
  EXPECT_NE(err_.str().find("error: UNAVAILABLE"), std::string::npos) << err_.str();
}

}  // namespace
}  // namespace prune::client
