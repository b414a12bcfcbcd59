#include "common/db/job_queue.h"

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/db/connection.h"
#include "common/db/db_test_fixture.h"

namespace prune::db::testing {
namespace {

constexpr absl::Duration kTtl = absl::Seconds(30);

class JobQueueTest : public DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    if (HasFatalFailure()) return;
    model_ = MakeModel("acme", "net");
    t0_ = QueueNow();
  }

  // Jobs are scheduled at the database's now(); queue time runs a little
  // ahead of it, whole microseconds like timestamptz.
  static absl::Time QueueNow() {
    return absl::FromUnixMicros(absl::ToUnixMicros(absl::Now() + absl::Seconds(1)));
  }

  JobRecord Enqueue(int priority = 100, int max_attempts = 3) {
    JobParameters params;
    params.model_id = model_.id;
    params.priority = priority;
    params.max_attempts = max_attempts;
    auto job = store_->CreateJob("acme", params, "");
    EXPECT_TRUE(job.ok()) << job.status();
    return job.ok() ? *job : JobRecord{};
  }

  ClaimedJob MustClaim(const std::string& worker, absl::Time now) {
    auto claimed = queue_->Claim(worker, kTtl, now);
    EXPECT_TRUE(claimed.ok()) << claimed.status();
    EXPECT_TRUE(claimed.ok() && claimed->has_value()) << "nothing to claim";
    return claimed.ok() && claimed->has_value() ? **claimed : ClaimedJob{};
  }

  static LeaseToken TokenOf(const ClaimedJob& claimed) {
    return {claimed.job.id, claimed.job.lease_owner, claimed.job.attempt};
  }

  JobRecord Get(const std::string& id) {
    auto job = store_->GetJob("acme", id);
    EXPECT_TRUE(job.ok()) << job.status();
    return job.ok() ? *job : JobRecord{};
  }

  ModelRecord model_;
  absl::Time t0_;
};

TEST_F(JobQueueTest, ClaimReturnsJobWithInputsAndRespectsPriority) {
  const JobRecord low = Enqueue(/*priority=*/200);
  const JobRecord high = Enqueue(/*priority=*/10);
  const ClaimedJob first = MustClaim("w1", t0_);
  EXPECT_EQ(first.job.id, high.id);
  EXPECT_EQ(first.job.state, JobState::kRunning);
  EXPECT_EQ(first.job.attempt, 1);
  EXPECT_EQ(first.job.lease_owner, "w1");
  EXPECT_EQ(first.job.lease_expires_at, t0_ + kTtl);
  EXPECT_EQ(first.model.id, model_.id);
  EXPECT_EQ(first.model.sha256, model_.sha256);
  EXPECT_FALSE(first.dataset.has_value());
  EXPECT_EQ(MustClaim("w1", t0_).job.id, low.id);
  ASSERT_OK_AND_ASSIGN(none, queue_->Claim("w1", kTtl, t0_));
  EXPECT_FALSE(none.has_value());
}

TEST_F(JobQueueTest, ClaimHonoursScheduledAtFromNow) {
  Enqueue();
  ASSERT_OK_AND_ASSIGN(early, queue_->Claim("w1", kTtl, t0_ - absl::Hours(1)));
  EXPECT_FALSE(early.has_value());
}

TEST_F(JobQueueTest, TwoWorkersRacingForOneJobClaimItOnce) {
  auto pool_a = ConnectionPool::Create(database_->url(), 1);
  auto pool_b = ConnectionPool::Create(database_->url(), 1);
  ASSERT_TRUE(pool_a.ok() && pool_b.ok());
  JobQueue queue_a(pool_a->get());
  JobQueue queue_b(pool_b->get());
  for (int round = 0; round < 20; ++round) {
    Enqueue();
    const absl::Time now = QueueNow();
    std::atomic<int> ready{0};
    std::atomic<int> claims{0};
    auto race = [&](JobQueue* queue, const std::string& worker) {
      ++ready;
      while (ready.load() < 2) {
      }
      auto claimed = queue->Claim(worker, kTtl, now);
      ASSERT_TRUE(claimed.ok()) << claimed.status();
      if (claimed->has_value()) ++claims;
    };
    std::thread a(race, &queue_a, "a");
    std::thread b(race, &queue_b, "b");
    a.join();
    b.join();
    EXPECT_EQ(claims.load(), 1) << "round " << round;
  }
}

TEST_F(JobQueueTest, FourWorkersClaimTwoHundredJobsExactlyOnce) {
  for (int i = 0; i < 200; ++i) Enqueue();
  const absl::Time now = QueueNow();
  std::mutex mu;
  std::multiset<std::string> claimed_ids;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      auto pool = ConnectionPool::Create(database_->url(), 1);
      ASSERT_TRUE(pool.ok());
      JobQueue queue(pool->get());
      while (true) {
        auto claimed = queue.Claim(absl::StrCat("w", w), kTtl, now);
        ASSERT_TRUE(claimed.ok()) << claimed.status();
        if (!claimed->has_value()) return;
        std::lock_guard<std::mutex> lock(mu);
        claimed_ids.insert((*claimed)->job.id);
      }
    });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(claimed_ids.size(), 200u);
  EXPECT_EQ(std::set<std::string>(claimed_ids.begin(), claimed_ids.end()).size(), 200u);
}

TEST_F(JobQueueTest, HeartbeatExtendsTheLease) {
  Enqueue();
  const ClaimedJob claimed = MustClaim("w1", t0_);
  const absl::Time later = t0_ + absl::Seconds(20);
  ASSERT_OK_AND_ASSIGN(beat, queue_->Heartbeat(TokenOf(claimed), kTtl, later));
  EXPECT_FALSE(beat.cancel_requested);
  EXPECT_EQ(Get(claimed.job.id).lease_expires_at, later + kTtl);
  // The original expiry has passed, the extended one has not: nothing to reap.
  ASSERT_OK_AND_ASSIGN(reaped, queue_->ReapExpiredLeases(t0_ + kTtl + absl::Seconds(1)));
  EXPECT_EQ(reaped, 0);
  EXPECT_EQ(Get(claimed.job.id).state, JobState::kRunning);
}

TEST_F(JobQueueTest, ReaperRequeuesExpiredLeaseAndStaleWorkerCannotWrite) {
  Enqueue();
  const ClaimedJob stale = MustClaim("a", t0_);
  const absl::Time reap_at = t0_ + kTtl + absl::Seconds(1);
  ASSERT_OK_AND_ASSIGN(reaped, queue_->ReapExpiredLeases(reap_at));
  EXPECT_EQ(reaped, 1);
  JobRecord requeued = Get(stale.job.id);
  EXPECT_EQ(requeued.state, JobState::kQueued);
  EXPECT_TRUE(requeued.lease_owner.empty());
  // Backoff: not claimable at once, claimable a few seconds later.
  ASSERT_OK_AND_ASSIGN(too_soon, queue_->Claim("b", kTtl, reap_at));
  EXPECT_FALSE(too_soon.has_value());
  const ClaimedJob fresh = MustClaim("b", reap_at + absl::Seconds(3));
  EXPECT_EQ(fresh.job.id, stale.job.id);
  EXPECT_EQ(fresh.job.attempt, 2);

  const absl::Time now = reap_at + absl::Seconds(5);
  const std::string artifact_sha = PutBlob("pruned model");
  const std::vector<ArtifactRecord> artifacts = {{ArtifactKind::kPrunedModel, artifact_sha, 12}};
  EXPECT_EQ(queue_->Complete(TokenOf(stale), R"({"by":"a"})", artifacts, now).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(queue_->Heartbeat(TokenOf(stale), kTtl, now).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(queue_->Fail(TokenOf(stale), "X", "x", false, now).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(queue_->ReportProgress(TokenOf(stale), 0.5, "s", "m", now).code(),
            absl::StatusCode::kAborted);
  ASSERT_OK(queue_->Complete(TokenOf(fresh), R"({"by":"b"})", artifacts, now));
  const JobRecord done = Get(fresh.job.id);
  EXPECT_EQ(done.state, JobState::kSucceeded);
  EXPECT_NE(done.report_json.find("\"b\""), std::string::npos);
  EXPECT_TRUE(done.finished_at.has_value());
  ASSERT_OK_AND_ASSIGN(artifact, store_->GetArtifact("acme", done.id, ArtifactKind::kPrunedModel));
  EXPECT_EQ(artifact.sha256, artifact_sha);
  EXPECT_EQ(store_->GetArtifact("acme", done.id, ArtifactKind::kReport).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetArtifact("globex", done.id, ArtifactKind::kPrunedModel).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(JobQueueTest, ReaperFailsJobWhenAttemptsAreUsedUp) {
  Enqueue(100, /*max_attempts=*/1);
  const ClaimedJob claimed = MustClaim("a", t0_);
  ASSERT_OK_AND_ASSIGN(reaped, queue_->ReapExpiredLeases(t0_ + kTtl + absl::Seconds(1)));
  EXPECT_EQ(reaped, 1);
  const JobRecord failed = Get(claimed.job.id);
  EXPECT_EQ(failed.state, JobState::kFailed);
  EXPECT_EQ(failed.error_reason, "LEASE_EXPIRED");
  EXPECT_TRUE(failed.finished_at.has_value());
  ASSERT_OK_AND_ASSIGN(again, queue_->ReapExpiredLeases(t0_ + absl::Hours(1)));
  EXPECT_EQ(again, 0);
}

TEST_F(JobQueueTest, ConcurrentReapersRescueEachJobOnce) {
  for (int i = 0; i < 10; ++i) Enqueue();
  t0_ = QueueNow();
  for (int i = 0; i < 10; ++i) MustClaim("a", t0_);
  std::atomic<int> total{0};
  std::vector<std::thread> reapers;
  for (int r = 0; r < 3; ++r) {
    reapers.emplace_back([&] {
      auto reaped = queue_->ReapExpiredLeases(t0_ + kTtl + absl::Seconds(1));
      ASSERT_TRUE(reaped.ok()) << reaped.status();
      total += *reaped;
    });
  }
  for (auto& reaper : reapers) reaper.join();
  ASSERT_OK_AND_ASSIGN(rest, queue_->ReapExpiredLeases(t0_ + kTtl + absl::Seconds(1)));
  EXPECT_EQ(total.load() + rest, 10);
}

TEST_F(JobQueueTest, RetryableFailureRequeuesWithBackoffUntilAttemptsRunOut) {
  const JobRecord job = Enqueue(100, /*max_attempts=*/2);
  const ClaimedJob first = MustClaim("w", t0_);
  ASSERT_OK(queue_->Fail(TokenOf(first), "OOM", "out of memory", /*retryable=*/true, t0_));
  JobRecord after = Get(job.id);
  EXPECT_EQ(after.state, JobState::kQueued);
  EXPECT_EQ(after.error_reason, "OOM");
  ASSERT_OK_AND_ASSIGN(too_soon, queue_->Claim("w", kTtl, t0_ + absl::Seconds(1)));
  EXPECT_FALSE(too_soon.has_value());
  const ClaimedJob second = MustClaim("w", t0_ + absl::Seconds(3));
  EXPECT_EQ(second.job.attempt, 2);
  ASSERT_OK(queue_->Fail(TokenOf(second), "OOM", "again", true, t0_ + absl::Seconds(4)));
  after = Get(job.id);
  EXPECT_EQ(after.state, JobState::kFailed);
  EXPECT_EQ(after.error, "again");
}

TEST_F(JobQueueTest, PermanentFailureIsTerminal) {
  const JobRecord job = Enqueue();
  const ClaimedJob claimed = MustClaim("w", t0_);
  ASSERT_OK(queue_->Fail(TokenOf(claimed), "MODEL_LOAD_FAILED", "not TorchScript", false, t0_));
  const JobRecord failed = Get(job.id);
  EXPECT_EQ(failed.state, JobState::kFailed);
  EXPECT_EQ(failed.error_reason, "MODEL_LOAD_FAILED");
  EXPECT_EQ(failed.error, "not TorchScript");
}

TEST_F(JobQueueTest, ReleaseDoesNotBurnAnAttempt) {
  const JobRecord job = Enqueue(100, /*max_attempts=*/1);
  const ClaimedJob first = MustClaim("w", t0_);
  ASSERT_OK(queue_->Release(TokenOf(first), t0_));
  const JobRecord released = Get(job.id);
  EXPECT_EQ(released.state, JobState::kQueued);
  EXPECT_EQ(released.attempt, 0);
  const ClaimedJob second = MustClaim("w2", t0_);
  EXPECT_EQ(second.job.attempt, 1);
  EXPECT_EQ(queue_->Release(TokenOf(first), t0_).code(), absl::StatusCode::kAborted);
}

TEST_F(JobQueueTest, CancelRunningReachesWorkerThroughHeartbeat) {
  const JobRecord job = Enqueue();
  const ClaimedJob claimed = MustClaim("w", t0_);
  ASSERT_OK_AND_ASSIGN(before, queue_->CancelRequested(TokenOf(claimed)));
  EXPECT_FALSE(before);
  ASSERT_OK_AND_ASSIGN(requested, store_->CancelJob("acme", job.id));
  EXPECT_EQ(requested.state, JobState::kRunning);
  EXPECT_TRUE(requested.cancel_requested);
  ASSERT_OK_AND_ASSIGN(polled, queue_->CancelRequested(TokenOf(claimed)));
  EXPECT_TRUE(polled);
  ASSERT_OK_AND_ASSIGN(beat, queue_->Heartbeat(TokenOf(claimed), kTtl, t0_ + absl::Seconds(1)));
  EXPECT_TRUE(beat.cancel_requested);
  ASSERT_OK(queue_->MarkCancelled(TokenOf(claimed), t0_ + absl::Seconds(2)));
  EXPECT_EQ(Get(job.id).state, JobState::kCancelled);
  EXPECT_EQ(queue_->CancelRequested(TokenOf(claimed)).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_->CancelJob("acme", job.id).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(JobQueueTest, CancelRequestedJobIsNotRetried) {
  const JobRecord job = Enqueue();
  const ClaimedJob claimed = MustClaim("w", t0_);
  ASSERT_OK(store_->CancelJob("acme", job.id).status());
  ASSERT_OK_AND_ASSIGN(reaped, queue_->ReapExpiredLeases(t0_ + kTtl + absl::Seconds(1)));
  EXPECT_EQ(reaped, 1);
  EXPECT_EQ(Get(job.id).state, JobState::kCancelled);
  (void)claimed;
}

TEST_F(JobQueueTest, EventsCarryIncreasingSequences) {
  const JobRecord job = Enqueue();
  const ClaimedJob claimed = MustClaim("w", t0_);
  ASSERT_OK(queue_->ReportProgress(TokenOf(claimed), 0.25, "analyze", "graph ok", t0_));
  ASSERT_OK(queue_->ReportProgress(TokenOf(claimed), 0.5, "search", "episode 10", t0_));
  ASSERT_OK(queue_->Complete(TokenOf(claimed), "{}", {}, t0_ + absl::Seconds(1)));
  ASSERT_OK_AND_ASSIGN(events, store_->ListJobEvents("acme", job.id, 0, 100));
  ASSERT_EQ(events.size(), 5u);
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].sequence, int64_t(i + 1));
  EXPECT_EQ(events[0].state, JobState::kQueued);
  EXPECT_EQ(events[1].state, JobState::kRunning);
  EXPECT_EQ(events[2].stage, "analyze");
  EXPECT_EQ(events[2].message, "graph ok");
  EXPECT_DOUBLE_EQ(events[3].progress, 0.5);
  EXPECT_EQ(events[4].state, JobState::kSucceeded);
  EXPECT_EQ(events[1].time, t0_);
  ASSERT_OK_AND_ASSIGN(tail, store_->ListJobEvents("acme", job.id, 3, 100));
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].sequence, 4);
  ASSERT_OK_AND_ASSIGN(limited, store_->ListJobEvents("acme", job.id, 0, 2));
  EXPECT_EQ(limited.size(), 2u);
  const JobRecord done = Get(job.id);
  EXPECT_EQ(done.progress, 1.0);
  EXPECT_EQ(done.stage, "search");
}

TEST_F(JobQueueTest, CheckpointSurvivesIntoTheNextAttempt) {
  Enqueue();
  const ClaimedJob first = MustClaim("a", t0_);
  EXPECT_TRUE(first.job.checkpoint_sha256.empty());
  const std::string checkpoint = PutBlob("search state");
  EXPECT_EQ(queue_->SaveCheckpoint(TokenOf(first), Sha256Hex("unstored"), t0_).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_OK(queue_->SaveCheckpoint(TokenOf(first), checkpoint, t0_));
  ASSERT_OK(queue_->Release(TokenOf(first), t0_));
  EXPECT_EQ(queue_->SaveCheckpoint(TokenOf(first), checkpoint, t0_).code(),
            absl::StatusCode::kAborted);
  const ClaimedJob second = MustClaim("b", t0_);
  EXPECT_EQ(second.job.checkpoint_sha256, checkpoint);
}

TEST_F(JobQueueTest, WaitForWorkWakesOnEnqueue) {
  // First call starts listening; nothing queued yet, so it times out.
  ASSERT_OK(queue_->WaitForWork(absl::Milliseconds(50)));
  std::thread producer([&] {
    absl::SleepFor(absl::Milliseconds(200));
    Enqueue();
  });
  const absl::Time start = absl::Now();
  ASSERT_OK(queue_->WaitForWork(absl::Seconds(20)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  producer.join();
}

}  // namespace
}  // namespace prune::db::testing
