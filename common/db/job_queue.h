// The worker side of the Postgres job queue (README.md here). Every query takes
// `now` so that lease expiry and rescue are testable by passing time in.
// Every write after the claim is fenced on (id, lease_owner, attempt,
// state='running'): a worker that lost its lease can never overwrite a job.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/db/records.h"

namespace prune::db {

class ConnectionPool;
class Connection;

struct ClaimedJob {
  JobRecord job;  // state running, attempt already incremented
  ModelRecord model;
  std::optional<DatasetRecord> dataset;
};

// Identifies one attempt of one job held by one worker; every fenced call
// takes it.
struct LeaseToken {
  std::string job_id;
  std::string worker_id;
  int32_t attempt = 0;
};

struct HeartbeatResult {
  bool cancel_requested = false;
};

class JobQueue {
 public:
  explicit JobQueue(ConnectionPool* pool);
  ~JobQueue();

  // Claims the next runnable job (queued, scheduled_at <= now) ordered by
  // priority, scheduled_at, id with FOR UPDATE SKIP LOCKED. nullopt when
  // none is runnable. A job whose tenant already has max_running_jobs running
  // jobs is passed over (it stays queued). The count is not locked, so
  // workers claiming at the same instant can overshoot the limit by at most
  // one job each.
  absl::StatusOr<std::optional<ClaimedJob>> Claim(const std::string& worker_id,
                                                  absl::Duration lease_ttl, absl::Time now);
  // Extends the lease. ABORTED ("LEASE_LOST") when the lease is gone.
  absl::StatusOr<HeartbeatResult> Heartbeat(const LeaseToken& lease, absl::Duration lease_ttl,
                                            absl::Time now);
  // Whether a cancel was requested, read without writing (polled more often
  // than the heartbeat so that a cancel stops the engine within seconds).
  // ABORTED ("LEASE_LOST") when the lease is gone.
  absl::StatusOr<bool> CancelRequested(const LeaseToken& lease);
  // Updates progress/stage and appends an event. ABORTED when the lease is lost.
  absl::Status ReportProgress(const LeaseToken& lease, double progress, const std::string& stage,
                              const std::string& message, absl::Time now);
  // Records the blob holding the search state so that the next attempt
  // resumes from it (ClaimedJob.job.checkpoint_sha256). ABORTED when the
  // lease is lost; FAILED_PRECONDITION when the blob is not stored.
  absl::Status SaveCheckpoint(const LeaseToken& lease, const std::string& sha256, absl::Time now);
  // running → succeeded with report, artifacts (blobs already stored) and the
  // candidates a search evaluated (none for jobs without a search), all in
  // one transaction. INVALID_ARGUMENT for two candidates with one index.
  absl::Status Complete(const LeaseToken& lease, const std::string& report_json,
                        const std::vector<ArtifactRecord>& artifacts, absl::Time now,
                        const std::vector<CandidateRecord>& candidates = {});
  // running → failed (retryable=false or attempts used up) or back to queued
  // with exponential backoff (retryable=true and attempts left).
  absl::Status Fail(const LeaseToken& lease, const std::string& reason, const std::string& message,
                    bool retryable, absl::Time now);
  // running → cancelled (after the worker saw cancel_requested).
  absl::Status MarkCancelled(const LeaseToken& lease, absl::Time now);
  // running → queued without using an attempt (graceful worker shutdown).
  absl::Status Release(const LeaseToken& lease, absl::Time now);
  // Requeues running jobs whose lease expired before `now` (with backoff),
  // or fails them when attempts are used up. Runs under
  // pg_try_advisory_lock so only one reaper works at a time. Returns the
  // number of jobs rescued or failed.
  absl::StatusOr<int> ReapExpiredLeases(absl::Time now);
  // Blocks up to `timeout` for a NOTIFY on prune_jobs (a wake-up only;
  // workers still poll).
  absl::Status WaitForWork(absl::Duration timeout);

 private:
  ConnectionPool* pool_;
  // WaitForWork's own connection: it stays LISTENing between calls so that
  // no notification is missed while the worker is busy.
  std::mutex listen_mu_;
  std::unique_ptr<Connection> listener_;
};

}  // namespace prune::db
