// JobExecutor against a real PostgreSQL with a fake engine: every way a job
// can end leads to exactly one fenced final write.
#include "workers/runner/job_executor.h"

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "common/db/connection_pool.h"
#include "common/db/db_test_fixture.h"
#include "gtest/gtest.h"

namespace prune::worker {
namespace {

using db::testing::DbTest;

// Behaves like the engine from the outside: reads its inputs, reports
// progress, writes the output model, or fails / waits for cancellation.
class FakeRunner : public PruneRunner {
 public:
  enum class Mode {
    kSucceed,
    kSearch,
    kFailInput,
    kFailInternal,
    kFailNoisily,  // a LibTorch-style text with frames and paths, under a gRPC-like code
    kCrash,        // what the sandboxed runner reports for a child that died on SIGSEGV
    kBlockUntilCancelled,
    kCheckpointThenBlock,
    kIgnoreCancel,  // like a forward that never returns: only `unblock` ends it
  };
  explicit FakeRunner(Mode mode) : mode_(mode) {}

  engine::Status Run(const engine::JobSpec& spec,
                     const std::function<void(const engine::Progress&)>& on_progress,
                     const engine::CancelToken& cancel, engine::JobOutcome* outcome) override {
    seen_spec = spec;
    std::ifstream model(spec.model_path, std::ios::binary);
    model_bytes_read = std::string(std::istreambuf_iterator<char>(model), {});
    on_progress({"analyse", 0.1, "analysing"});
    switch (mode_) {
      case Mode::kFailInput:
        return {"MODEL_LOAD_FAILED", "not a TorchScript archive"};
      case Mode::kFailInternal:
        return {"INTERNAL", "out of memory"};
      case Mode::kFailNoisily:
        return {"INVALID_ARGUMENT",
                "latency_batch_size does not fit the model\nException raised from check at "
                "/build/pytorch/aten/src/ATen/native/Conv.cpp:12 (most recent call first):\n"
                "frame #0: c10::Error::Error() + 0x3e (0x7f2a1c0b4e0e in /usr/lib/libc10.so)\n" +
                    std::string(5000, '.')};
      case Mode::kCrash:
        return {"MODEL_CRASHED", "the engine process running this model died with SIGSEGV"};
      case Mode::kCheckpointThenBlock:
        spec.on_checkpoint("search-state-after-3-evaluations");
        [[fallthrough]];
      case Mode::kBlockUntilCancelled:
        started = true;
        while (!cancel.cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return {"CANCELLED", "stopped"};
      case Mode::kIgnoreCancel:
        started = true;
        while (!unblock) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return {"CANCELLED", "stopped at last"};
      case Mode::kSucceed:
      case Mode::kSearch:
        break;
    }
    std::ofstream(spec.output_model_path, std::ios::binary) << "pruned-bytes";
    outcome->report_json = R"({"macs_ratio":0.5})";
    if (mode_ == Mode::kSearch) {
      // The shape of search_job.cc WriteCandidates.
      outcome->report_json = R"({"macs_ratio":0.5,"candidates":[
        {"index":0,"keep":[8,16],"macs":1000,"params":300,"score":0.91,"feasible":false,"pareto":true},
        {"index":3,"keep":[4,8],"macs":400,"params":120,"score":0.85,"feasible":true,"pareto":true},
        {"index":5,"keep":[6,8],"macs":600,"params":200,"score":0.80,"feasible":true,"pareto":false}]})";
    }
    outcome->macs_ratio = 0.5;
    on_progress({"done", 1.0, "finished"});
    return {};
  }

  engine::JobSpec seen_spec;
  std::string model_bytes_read;
  std::atomic<bool> started{false};
  std::atomic<bool> unblock{false};

 private:
  Mode mode_;
};

class JobExecutorTest : public DbTest {
 protected:
  WorkerOptions Options() {
    WorkerOptions options;
    options.worker_id = "worker-a";
    options.work_dir = ::testing::TempDir() + "/executor";
    options.heartbeat_interval = absl::Milliseconds(50);
    options.progress_interval = absl::ZeroDuration();
    return options;
  }

  db::ClaimedJob EnqueueAndClaim(int max_attempts = 3, int64_t time_limit_seconds = 0) {
    db::ModelRecord model = MakeModel("acme", "net");
    db::JobParameters params;
    params.model_id = model.id;
    params.target_ratio = 0.4;
    params.latency_batch_size = 4;
    params.seed = 7;
    params.max_attempts = max_attempts;
    params.time_limit_seconds = time_limit_seconds;
    params.round_to = 8;
    params.min_channels = 4;
    params.group_reduction = "max";
    params.normalization = "none";
    params.distillation_alpha = 0.3;
    params.distillation_temperature = 2.0;
    params.accuracy_floor = 0.85;
    auto job = store_->CreateJob("acme", params, "");
    EXPECT_TRUE(job.ok()) << job.status();
    auto claimed = queue_->Claim("worker-a", absl::Seconds(30), absl::Now());
    EXPECT_TRUE(claimed.ok() && claimed->has_value());
    return **claimed;
  }

  db::JobRecord Reload(const std::string& id) {
    auto job = store_->GetJob("acme", id);
    EXPECT_TRUE(job.ok()) << job.status();
    return *job;
  }
};

TEST_F(JobExecutorTest, SuccessStoresArtifactsAndReport) {
  db::ClaimedJob claimed = EnqueueAndClaim();
  FakeRunner runner(FakeRunner::Mode::kSucceed);
  JobExecutor executor(queue_.get(), blobs_.get(), &runner, Options(), [] { return absl::Now(); });

  EXPECT_EQ(executor.Execute(claimed), JobEnd::kSucceeded);

  db::JobRecord job = Reload(claimed.job.id);
  EXPECT_EQ(job.state, db::JobState::kSucceeded);
  EXPECT_NE(job.report_json.find("macs_ratio"), std::string::npos);
  EXPECT_EQ(runner.seen_spec.target_ratio, 0.4);
  EXPECT_EQ(runner.seen_spec.latency_batch_size, 4);
  EXPECT_EQ(runner.seen_spec.seed, 7u);
  EXPECT_EQ(runner.seen_spec.input_shape, claimed.model.input_shape);
  // The job's channel and distillation settings reach the engine.
  EXPECT_EQ(runner.seen_spec.round_to, 8);
  EXPECT_EQ(runner.seen_spec.min_channels, 4);
  EXPECT_EQ(runner.seen_spec.group_reduction, "max");
  EXPECT_EQ(runner.seen_spec.normalization, "none");
  EXPECT_EQ(runner.seen_spec.kd_alpha, 0.3);
  EXPECT_EQ(runner.seen_spec.kd_temperature, 2.0);
  EXPECT_EQ(runner.seen_spec.accuracy_floor, 0.85);
  EXPECT_FALSE(runner.model_bytes_read.empty());
  auto artifact = store_->GetArtifact("acme", job.id, db::ArtifactKind::kPrunedModel);
  ASSERT_TRUE(artifact.ok()) << artifact.status();
  std::string stored;
  ASSERT_OK(blobs_->Read(artifact->sha256, [&](std::string_view chunk) {
    stored.append(chunk);
    return true;
  }));
  EXPECT_EQ(stored, "pruned-bytes");
  auto report = store_->GetArtifact("acme", job.id, db::ArtifactKind::kReport);
  EXPECT_TRUE(report.ok()) << report.status();
  auto events = store_->ListJobEvents("acme", job.id, 0, 100);
  ASSERT_TRUE(events.ok());
  bool saw_progress = false;
  for (const auto& event : *events) saw_progress |= event.stage == "analyse";
  EXPECT_TRUE(saw_progress);
  auto candidates = store_->ListCandidates("acme", job.id, false, 0, "");
  ASSERT_TRUE(candidates.ok()) << candidates.status();
  EXPECT_TRUE(candidates->items.empty());  // no search, no candidates
}

TEST_F(JobExecutorTest, SearchReportCandidatesAreListed) {
  db::ClaimedJob claimed = EnqueueAndClaim();
  FakeRunner runner(FakeRunner::Mode::kSearch);
  JobExecutor executor(queue_.get(), blobs_.get(), &runner, Options(), [] { return absl::Now(); });

  EXPECT_EQ(executor.Execute(claimed), JobEnd::kSucceeded);

  auto all = store_->ListCandidates("acme", claimed.job.id, false, 0, "");
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->items.size(), 3u);
  EXPECT_EQ(all->items[1].index, 3);
  EXPECT_EQ(all->items[1].widths, (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(all->items[1].macs, 400);
  EXPECT_EQ(all->items[1].params, 120);
  EXPECT_DOUBLE_EQ(all->items[1].score, 0.85);
  EXPECT_TRUE(all->items[1].feasible);
  EXPECT_TRUE(all->items[1].pareto);
  EXPECT_FALSE(all->items[2].pareto);
  auto pareto = store_->ListCandidates("acme", claimed.job.id, true, 0, "");
  ASSERT_TRUE(pareto.ok()) << pareto.status();
  EXPECT_EQ(pareto->items.size(), 2u);
}

TEST(ReportCandidatesTest, ToleratesMissingAndMalformedEntries) {
  EXPECT_TRUE(ReportCandidates("not json").empty());
  EXPECT_TRUE(ReportCandidates(R"({"macs_ratio":0.5})").empty());
  const auto candidates = ReportCandidates(
      R"({"candidates":[{"keep":[1]},{"index":2,"macs":"many","score":0.5},7]})");
  ASSERT_EQ(candidates.size(), 1u);
  EXPECT_EQ(candidates[0].index, 2);
  EXPECT_EQ(candidates[0].macs, 0);
  EXPECT_DOUBLE_EQ(candidates[0].score, 0.5);
  EXPECT_FALSE(candidates[0].pareto);
}

TEST_F(JobExecutorTest, InputErrorFailsForGoodWithReason) {
  db::ClaimedJob claimed = EnqueueAndClaim();
  FakeRunner runner(FakeRunner::Mode::kFailInput);
  JobExecutor executor(queue_.get(), blobs_.get(), &runner, Options(), [] { return absl::Now(); });

  EXPECT_EQ(executor.Execute(claimed), JobEnd::kFailed);

  db::JobRecord job = Reload(claimed.job.id);
  EXPECT_EQ(job.state, db::JobState::kFailed);
  EXPECT_EQ(job.error_reason, "MODEL_LOAD_FAILED");
  EXPECT_NE(job.error.find("TorchScript"), std::string::npos);
}

TEST_F(JobExecutorTest, InternalErrorIsRetried) {
  db::ClaimedJob claimed = EnqueueAndClaim();
  FakeRunner runner(FakeRunner::Mode::kFailInternal);
  JobExecutor executor(queue_.get(), blobs_.get(), &runner, Options(), [] { return absl::Now(); });

  executor.Execute(claimed);

  EXPECT_EQ(Reload(claimed.job.id).state, db::JobState::kQueued);
}

TEST_F(JobExecutorTest, TenantReadsAShortTextAndADomainReason) {
  db::ClaimedJob claimed = EnqueueAndClaim();
  FakeRunner runner(FakeRunner::Mode::kFailNoisily);
  JobExecutor executor(queue_.get(), blobs_.get(), &runner, Options(), [] { return absl::Now(); });

  EXPECT_EQ(executor.Execute(claimed), JobEnd::kFailed);

  db::JobRecord job = Reload(claimed.job.id);
  EXPECT_EQ(job.state, db::JobState::kFailed);
  EXPECT_EQ(job.error_reason, "JOB_SPEC_INVALID");  // not the gRPC-like engine code
  EXPECT_LE(job.error.size(), 1024u) << job.error;
  EXPECT_NE(job.error.find("latency_batch_size does not fit the model"), std::string::npos);
  EXPECT_EQ(job.error.find("frame #"), std::string::npos) << job.error;
  EXPECT_EQ(job.error.find("/build/"), std::string::npos) << job.error;
  EXPECT_EQ(job.error.find("0x7f"), std::string::npos) << job.error;
  EXPECT_NE(job.error.find("(error id "), std::string::npos) << job.error;
}

TEST_F(JobExecutorTest, ModelCrashIsFinalNotRetried) {
  db::ClaimedJob claimed = EnqueueAndClaim(/*max_attempts=*/3);
  FakeRunner runner(FakeRunner::Mode::kCrash);
  JobExecutor executor(queue_.get(), blobs_.get(), &runner, Options(), [] { return absl::Now(); });

  EXPECT_EQ(executor.Execute(claimed), JobEnd::kFailed);

  db::JobRecord job = Reload(claimed.job.id);
  EXPECT_EQ(job.state, db::JobState::kFailed);  // not queued for another attempt
  EXPECT_EQ(job.error_reason, "MODEL_CRASHED");
}

TEST_F(JobExecutorTest, CancelRequestedThroughApiStopsTheEngine) {
  db::ClaimedJob claimed = EnqueueAndClaim();
  FakeRunner runner(FakeRunner::Mode::kBlockUntilCancelled);
  JobExecutor executor(queue_.get(), blobs_.get(), &runner, Options(), [] { return absl::Now(); });
  std::thread canceller([&] {
    while (!runner.started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto cancelled = store_->CancelJob("acme", claimed.job.id);
    EXPECT_TRUE(cancelled.ok()) << cancelled.status();
  });

  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(executor.Execute(claimed), JobEnd::kCancelled);
  canceller.join();

  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(Reload(claimed.job.id).state, db::JobState::kCancelled);
}

// The issue's bar: a running job stops within 5 s of a cancel, whatever the
// heartbeat interval (the default is 15 s).
TEST_F(JobExecutorTest, CancelArrivesBetweenHeartbeats) {
  db::ClaimedJob claimed = EnqueueAndClaim();
  FakeRunner runner(FakeRunner::Mode::kBlockUntilCancelled);
  WorkerOptions options = Options();
  options.heartbeat_interval = absl::Seconds(30);
  options.lease_ttl = absl::Seconds(90);
  JobExecutor executor(queue_.get(), blobs_.get(), &runner, options, [] { return absl::Now(); });
  // As in prune-worker: the lease keeper on a pool of its own.
  auto heartbeat_pool = db::ConnectionPool::Create(pool_->url(), 1);
  ASSERT_TRUE(heartbeat_pool.ok());
  db::JobQueue heartbeat_queue(heartbeat_pool->get());
  executor.UseHeartbeatQueue(&heartbeat_queue);
  std::chrono::steady_clock::time_point cancelled_at;
  std::thread canceller([&] {
    while (!runner.started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancelled_at = std::chrono::steady_clock::now();
    EXPECT_TRUE(store_->CancelJob("acme", claimed.job.id).ok());
  });

  EXPECT_EQ(executor.Execute(claimed), JobEnd::kCancelled);
  const auto stopped_at = std::chrono::steady_clock::now();
  canceller.join();

  EXPECT_LT(stopped_at - cancelled_at, std::chrono::seconds(5));
  EXPECT_EQ(Reload(claimed.job.id).state, db::JobState::kCancelled);
}

TEST_F(JobExecutorTest, TimeLimitStopsTheEngineAndFailsWithoutRetry) {
  db::ClaimedJob claimed = EnqueueAndClaim(/*max_attempts=*/3, /*time_limit_seconds=*/1);
  FakeRunner runner(FakeRunner::Mode::kBlockUntilCancelled);
  JobExecutor executor(queue_.get(), blobs_.get(), &runner, Options(), [] { return absl::Now(); });

  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(executor.Execute(claimed), JobEnd::kFailed);

  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  db::JobRecord job = Reload(claimed.job.id);
  EXPECT_EQ(job.state, db::JobState::kFailed);  // not queued for attempt 2
  EXPECT_EQ(job.error_reason, "JOB_TIME_LIMIT_EXCEEDED");
  EXPECT_NE(job.error.find("1s"), std::string::npos) << job.error;
}

TEST_F(JobExecutorTest, JobsWithoutALimitTakeTheWorkersDefault) {
  db::ClaimedJob claimed = EnqueueAndClaim(/*max_attempts=*/3, /*time_limit_seconds=*/0);
  FakeRunner runner(FakeRunner::Mode::kBlockUntilCancelled);
  WorkerOptions options = Options();
  options.default_time_limit = absl::Milliseconds(300);
  JobExecutor executor(queue_.get(), blobs_.get(), &runner, options, [] { return absl::Now(); });

  EXPECT_EQ(executor.Execute(claimed), JobEnd::kFailed);
  EXPECT_EQ(Reload(claimed.job.id).error_reason, "JOB_TIME_LIMIT_EXCEEDED");
}

// A forward that never returns: the engine ignores its cancel token. The job
// still ends (recorded by the watchdog) and the process is handed over.
TEST_F(JobExecutorTest, StuckEngineAtTheTimeLimitFailsTheJobAndHandsOverTheProcess) {
  db::ClaimedJob claimed = EnqueueAndClaim(/*max_attempts=*/3, /*time_limit_seconds=*/1);
  FakeRunner runner(FakeRunner::Mode::kIgnoreCancel);
  WorkerOptions options = Options();
  options.stuck_grace = absl::Milliseconds(300);
  std::atomic<int> handovers{0};
  std::atomic<bool> job_failed_before_handover{false};
  options.on_engine_stuck = [&](bool draining) {
    EXPECT_FALSE(draining);
    job_failed_before_handover = Reload(claimed.job.id).state == db::JobState::kFailed;
    ++handovers;
    runner.unblock = true;  // prune-worker would re-exec here instead
  };
  JobExecutor executor(queue_.get(), blobs_.get(), &runner, options, [] { return absl::Now(); });

  EXPECT_EQ(executor.Execute(claimed), JobEnd::kFailed);

  EXPECT_EQ(handovers, 1);
  EXPECT_TRUE(job_failed_before_handover);
  db::JobRecord job = Reload(claimed.job.id);
  EXPECT_EQ(job.state, db::JobState::kFailed);
  EXPECT_EQ(job.error_reason, "JOB_TIME_LIMIT_EXCEEDED");
}

TEST_F(JobExecutorTest, StuckEngineAfterACancelStillEndsCancelled) {
  db::ClaimedJob claimed = EnqueueAndClaim();
  FakeRunner runner(FakeRunner::Mode::kIgnoreCancel);
  WorkerOptions options = Options();
  options.stuck_grace = absl::Milliseconds(300);
  std::atomic<int> handovers{0};
  options.on_engine_stuck = [&](bool) {
    ++handovers;
    runner.unblock = true;
  };
  JobExecutor executor(queue_.get(), blobs_.get(), &runner, options, [] { return absl::Now(); });
  std::thread canceller([&] {
    while (!runner.started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_TRUE(store_->CancelJob("acme", claimed.job.id).ok());
  });

  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(executor.Execute(claimed), JobEnd::kCancelled);
  canceller.join();

  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(handovers, 1);
  EXPECT_EQ(Reload(claimed.job.id).state, db::JobState::kCancelled);
}

TEST_F(JobExecutorTest, DrainReleasesWithoutBurningAnAttempt) {
  db::ClaimedJob claimed = EnqueueAndClaim();
  FakeRunner runner(FakeRunner::Mode::kBlockUntilCancelled);
  JobExecutor executor(queue_.get(), blobs_.get(), &runner, Options(), [] { return absl::Now(); });
  std::thread drainer([&] {
    while (!runner.started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    executor.Drain();
  });

  EXPECT_EQ(executor.Execute(claimed), JobEnd::kReleased);
  drainer.join();

  db::JobRecord job = Reload(claimed.job.id);
  EXPECT_EQ(job.state, db::JobState::kQueued);
  EXPECT_EQ(job.attempt, 0);
}

TEST_F(JobExecutorTest, ReleasedJobResumesFromItsCheckpoint) {
  db::ClaimedJob first = EnqueueAndClaim();
  FakeRunner interrupted(FakeRunner::Mode::kCheckpointThenBlock);
  JobExecutor draining(queue_.get(), blobs_.get(), &interrupted, Options(),
                       [] { return absl::Now(); });
  std::thread drainer([&] {
    while (!interrupted.started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    draining.Drain();
  });
  EXPECT_EQ(draining.Execute(first), JobEnd::kReleased);
  drainer.join();
  EXPECT_TRUE(interrupted.seen_spec.search_resume_state.empty());

  auto second = queue_->Claim("worker-b", absl::Seconds(30), absl::Now() + absl::Seconds(1));
  ASSERT_TRUE(second.ok() && second->has_value()) << second.status();
  EXPECT_EQ((*second)->job.attempt, 1);  // the release burned no attempt
  FakeRunner resumed(FakeRunner::Mode::kSucceed);
  WorkerOptions options = Options();
  options.worker_id = "worker-b";
  JobExecutor executor(queue_.get(), blobs_.get(), &resumed, options, [] { return absl::Now(); });
  EXPECT_EQ(executor.Execute(**second), JobEnd::kSucceeded);
  EXPECT_EQ(resumed.seen_spec.search_resume_state, "search-state-after-3-evaluations");
}

TEST_F(JobExecutorTest, WorkerThatLostItsLeaseWritesNothing) {
  db::ClaimedJob claimed = EnqueueAndClaim();
  // The lease expires, the reaper requeues, another worker claims attempt 2.
  const absl::Time later = absl::Now() + absl::Minutes(5);
  auto reaped = queue_->ReapExpiredLeases(later);
  ASSERT_TRUE(reaped.ok()) << reaped.status();
  ASSERT_EQ(*reaped, 1);
  auto second = queue_->Claim("worker-b", absl::Seconds(30), later + absl::Minutes(10));
  ASSERT_TRUE(second.ok() && second->has_value());

  FakeRunner runner(FakeRunner::Mode::kSucceed);
  JobExecutor executor(queue_.get(), blobs_.get(), &runner, Options(), [] { return absl::Now(); });
  EXPECT_EQ(executor.Execute(claimed), JobEnd::kLeaseLost);

  db::JobRecord job = Reload(claimed.job.id);
  EXPECT_EQ(job.state, db::JobState::kRunning);
  EXPECT_EQ(job.lease_owner, "worker-b");
  EXPECT_EQ(job.attempt, 2);
}

}  // namespace
}  // namespace prune::worker
