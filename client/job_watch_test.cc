#include "job_watch.h"

#include <gtest/gtest.h>

#include "fake_prune_service.h"

namespace prune::client {
namespace {

using prune::v1::Job;

class JobWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ConnectionOptions options;
    options.server = server_.address();
    connection_ = std::move(*Connection::Create(options));
    service_.job.set_name("tenants/t/jobs/j1");
    policy_.max_retries = 3;
    policy_.sleep = [this](std::chrono::milliseconds d) { sleeps_.push_back(d); };
  }

  absl::StatusOr<Job::State> Watch(const std::string& job = "tenants/t/jobs/j1") {
    return WatchJobUntilDone(*connection_, job, policy_, [this](const prune::v1::JobEvent& e) {
      seen_.push_back(e.sequence());
    });
  }

  FakePruneService service_;
  FakeServer server_{&service_};
  std::unique_ptr<Connection> connection_;
  RetryPolicy policy_;
  std::vector<std::chrono::milliseconds> sleeps_;
  std::vector<int64_t> seen_;
};

TEST_F(JobWatchTest, ResumesAfterBrokenStreamFromLastSequence) {
  service_.watch_scripts = {
      {MakeEvent(1, Job::QUEUED, 0, "queued"), MakeEvent(2, Job::RUNNING, 0.3, "started")},
      {MakeEvent(1, Job::QUEUED, 0, "queued"), MakeEvent(2, Job::RUNNING, 0.3, "started"),
       MakeEvent(3, Job::RUNNING, 0.7, "pruning"), MakeEvent(4, Job::SUCCEEDED, 1, "done")}};
  absl::StatusOr<Job::State> state = Watch();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state, Job::SUCCEEDED);
  EXPECT_EQ(seen_, (std::vector<int64_t>{1, 2, 3, 4}));
  std::lock_guard<std::mutex> lock(service_.mu);
  EXPECT_EQ(service_.watch_after_sequences, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(sleeps_.size(), 1u);
}

TEST_F(JobWatchTest, GivesUpAfterBoundedRetriesWithBackoff) {
  service_.watch_scripts = {{MakeEvent(1, Job::RUNNING, 0.1, "x")}, {}, {}, {}, {}, {}};
  absl::StatusOr<Job::State> state = Watch();
  EXPECT_EQ(state.status().code(), absl::StatusCode::kUnavailable);
  ASSERT_EQ(sleeps_.size(), 3u);
  EXPECT_LT(sleeps_[0], sleeps_[1]);
  EXPECT_LT(sleeps_[1], sleeps_[2]);
  std::lock_guard<std::mutex> lock(service_.mu);
  EXPECT_EQ(service_.watch_after_sequences, (std::vector<int64_t>{0, 1, 1, 1}));
}

TEST_F(JobWatchTest, OtherErrorsEndTheWatchWithoutRetrying) {
  service_.watch_scripts = {{MakeEvent(1, Job::RUNNING, 0.1, "x")}};
  absl::StatusOr<Job::State> state = Watch("tenants/t/jobs/unknown");
  EXPECT_EQ(state.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(sleeps_.empty());
}

}  // namespace
}  // namespace prune::client
