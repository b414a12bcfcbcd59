#include "common/db/job_queue.h"

#include <poll.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/db/connection.h"
#include "common/db/connection_pool.h"
#include "common/db/job_rows.h"

namespace prune::db {
namespace {

// Fixed advisory-lock key shared by every reaper of this database.
constexpr char kReaperLockKey[] = "31930309149550952";

// $1 job id, $2 worker id, $3 attempt, $4 now; a call's own values follow.
constexpr char kFence[] =
    " WHERE id = $1::uuid AND lease_owner = $2::text AND attempt = $3::integer"
    " AND state = 'running'";
constexpr char kNow[] = "$4::timestamptz";
// The lease columns a job keeps only while running (see the CHECK in 0001).
constexpr char kClearLease[] = " lease_owner = NULL, lease_expires_at = NULL,";
// Retry delay after attempt n: 2^n seconds, at most 5 minutes.
constexpr char kBackoff[] = "least(power(2, attempt), 300) * interval '1 second'";

std::vector<Param> FenceParams(const LeaseToken& lease, absl::Time now) {
  return {lease.job_id, lease.worker_id, lease.attempt, Param::Time(now)};
}

absl::Status LeaseLost(const LeaseToken& lease) {
  return absl::AbortedError(absl::StrCat("LEASE_LOST: job ", lease.job_id, " attempt ",
                                         lease.attempt, " is no longer held by ", lease.worker_id));
}

absl::Status FencedWrite(Connection* conn, const LeaseToken& lease, const std::string& sql,
                         std::vector<Param> params) {
  absl::StatusOr<Result> changed = conn->Exec(sql, params);
  if (!changed.ok()) return changed.status();
  return changed->rows() == 1 ? absl::OkStatus() : LeaseLost(lease);
}

}  // namespace

JobQueue::JobQueue(ConnectionPool* pool) : pool_(pool) {}

JobQueue::~JobQueue() = default;

absl::StatusOr<std::optional<ClaimedJob>> JobQueue::Claim(const std::string& worker_id,
                                                          absl::Duration lease_ttl,
                                                          absl::Time now) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  // One statement: pick, lease and log atomically. SKIP LOCKED lets
  // concurrent workers pass over a row another worker is claiming.
  absl::StatusOr<Result> row = (*conn)->Exec(
      absl::StrCat(
          "WITH next AS ("
          "  SELECT q.id FROM jobs q JOIN tenants t ON t.name = q.tenant"
          "  WHERE q.state = 'queued' AND q.scheduled_at <= $2::timestamptz"
          "   AND (t.max_running_jobs IS NULL OR t.max_running_jobs > (SELECT count(*) FROM jobs r"
          "        WHERE r.tenant = q.tenant AND r.state = 'running'))"
          "  ORDER BY q.priority, q.scheduled_at, q.id LIMIT 1 FOR UPDATE OF q SKIP LOCKED),"
          " claimed AS ("
          "  UPDATE jobs j SET state = 'running', attempt = j.attempt + 1, lease_owner = $1::text,"
          "   lease_expires_at = $2::timestamptz + $3::bigint * interval '1 microsecond',"
          "   heartbeat_at = $2::timestamptz, started_at = coalesce(j.started_at, $2::timestamptz),"
          "   updated_at = $2::timestamptz, last_event_seq = j.last_event_seq + 1"
          "  FROM next WHERE j.id = next.id RETURNING j.*),"
          " event AS ("
          "  INSERT INTO job_events (job_id, sequence, time, state, progress, stage, message)"
          "  SELECT id, last_event_seq, $2::timestamptz, state, progress, stage,"
          "   'attempt ' || attempt || ' started by ' || $1::text FROM claimed)"
          " SELECT ",
          JobColumns("c"), ", ", ModelColumns("m"), ", ", DatasetColumns("d"),
          " FROM claimed c JOIN models m ON m.id = c.model_id"
          " LEFT JOIN datasets d ON d.id = c.dataset_id"),
      {worker_id, Param::Time(now), Param::Micros(lease_ttl)});
  if (!row.ok()) return row.status();
  if (row->rows() == 0) return std::optional<ClaimedJob>();
  ClaimedJob claimed;
  claimed.job = JobFromRow(*row, 0, 0);
  claimed.model = ModelFromRow(*row, 0, kJobColumnCount);
  const int dataset_first = kJobColumnCount + kModelColumnCount;
  if (!row->IsNull(0, dataset_first)) claimed.dataset = DatasetFromRow(*row, 0, dataset_first);
  return std::optional<ClaimedJob>(std::move(claimed));
}

absl::StatusOr<HeartbeatResult> JobQueue::Heartbeat(const LeaseToken& lease,
                                                    absl::Duration lease_ttl, absl::Time now) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  std::vector<Param> params = FenceParams(lease, now);
  params.push_back(Param::Micros(lease_ttl));
  absl::StatusOr<Result> row = (*conn)->Exec(
      absl::StrCat("UPDATE jobs SET lease_expires_at = ", kNow,
                   " + $5::bigint * interval '1 microsecond', heartbeat_at = ", kNow,
                   ", updated_at = ", kNow, kFence, " RETURNING cancel_requested_at IS NOT NULL"),
      params);
  if (!row.ok()) return row.status();
  if (row->rows() == 0) return LeaseLost(lease);
  HeartbeatResult result;
  result.cancel_requested = row->Bool(0, 0);
  return result;
}

absl::StatusOr<bool> JobQueue::CancelRequested(const LeaseToken& lease) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> row = (*conn)->Exec(
      absl::StrCat("SELECT cancel_requested_at IS NOT NULL FROM jobs", kFence),
      {lease.job_id, lease.worker_id, lease.attempt});
  if (!row.ok()) return row.status();
  if (row->rows() == 0) return LeaseLost(lease);
  return row->Bool(0, 0);
}

absl::Status JobQueue::ReportProgress(const LeaseToken& lease, double progress,
                                      const std::string& stage, const std::string& message,
                                      absl::Time now) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  std::vector<Param> params = FenceParams(lease, now);
  params.insert(params.end(), {progress, stage, message});
  return FencedWrite(
      conn->get(), lease,
      WithJobEvent(absl::StrCat("UPDATE jobs SET progress = $5::float8, stage = $6::text,"
                                " updated_at = ",
                                kNow, ", last_event_seq = last_event_seq + 1", kFence),
                   kNow, "$7::text"),
      std::move(params));
}

absl::Status JobQueue::SaveCheckpoint(const LeaseToken& lease, const std::string& sha256,
                                      absl::Time now) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  std::vector<Param> params = FenceParams(lease, now);
  params.push_back(sha256);
  absl::Status saved =
      FencedWrite(conn->get(), lease,
                  absl::StrCat("UPDATE jobs SET checkpoint_sha256 = $5::text, updated_at = ", kNow,
                               kFence, " RETURNING id"),
                  std::move(params));
  if (absl::IsFailedPrecondition(saved)) {
    return absl::FailedPreconditionError(
        absl::StrCat("BLOB_NOT_FOUND: checkpoint blob ", sha256, " was not stored"));
  }
  return saved;
}

absl::Status JobQueue::Complete(const LeaseToken& lease, const std::string& report_json,
                                const std::vector<ArtifactRecord>& artifacts, absl::Time now,
                                const std::vector<CandidateRecord>& candidates) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  // The fenced state change and the artifact rows commit together: a job is
  // never succeeded without its outputs, nor outputs attached by a stale worker.
  absl::StatusOr<Transaction> txn = Transaction::Begin(conn->get());
  if (!txn.ok()) return txn.status();
  std::vector<Param> params = FenceParams(lease, now);
  params.push_back(report_json.empty() ? Param(std::nullopt) : Param(report_json));
  if (absl::Status fenced = FencedWrite(
          conn->get(), lease,
          WithJobEvent(absl::StrCat("UPDATE jobs SET state = 'succeeded', report = $5::jsonb,"
                                    " progress = 1, error = '', error_reason = '',",
                                    kClearLease, " finished_at = ", kNow, ", updated_at = ", kNow,
                                    ", last_event_seq = last_event_seq + 1", kFence),
                       kNow, "'succeeded'"),
          std::move(params));
      !fenced.ok()) {
    return fenced;
  }
  for (const ArtifactRecord& artifact : artifacts) {
    absl::StatusOr<Result> stored = (*conn)->Exec(
        "INSERT INTO job_artifacts (job_id, kind, sha256, size_bytes)"
        " VALUES ($1::uuid, $2, $3, $4::bigint)",
        {lease.job_id, ArtifactKindName(artifact.kind), artifact.sha256, artifact.size_bytes});
    if (absl::IsFailedPrecondition(stored.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("BLOB_NOT_FOUND: artifact blob ", artifact.sha256, " was not stored"));
    }
    if (!stored.ok()) return stored.status();
  }
  for (const CandidateRecord& candidate : candidates) {
    const std::string widths = absl::StrCat("[", absl::StrJoin(candidate.widths, ","), "]");
    absl::StatusOr<Result> stored = (*conn)->Exec(
        "INSERT INTO job_candidates (job_id, idx, macs, params, score, feasible, pareto, widths)"
        " VALUES ($1::uuid, $2::bigint, $3::bigint, $4::bigint, $5::double precision,"
        " $6::boolean, $7::boolean, $8::jsonb)",
        {lease.job_id, candidate.index, candidate.macs, candidate.params, candidate.score,
         Param::Bool(candidate.feasible), Param::Bool(candidate.pareto), widths});
    if (!stored.ok()) {
      if (absl::IsAlreadyExists(stored.status())) {
        return absl::InvalidArgumentError(
            absl::StrCat("DUPLICATE_CANDIDATE: candidate index ", candidate.index, " repeats"));
      }
      return stored.status();
    }
  }
  return txn->Commit();
}

absl::Status JobQueue::Fail(const LeaseToken& lease, const std::string& reason,
                            const std::string& message, bool retryable, absl::Time now) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  // A job whose cancellation was requested never retries.
  const std::string next_state =
      "(CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled'"
      " WHEN $7::boolean AND attempt < max_attempts THEN 'queued' ELSE 'failed' END)";
  std::vector<Param> params = FenceParams(lease, now);
  params.insert(params.end(), {reason, message, Param::Bool(retryable)});
  return FencedWrite(
      conn->get(), lease,
      WithJobEvent(
          absl::StrCat("UPDATE jobs SET state = ", next_state, ", error_reason = $5::text,",
                       " error = $6::text,", kClearLease, " scheduled_at = CASE WHEN ", next_state,
                       " = 'queued' THEN ", kNow, " + ", kBackoff,
                       " ELSE scheduled_at END, finished_at = CASE WHEN ", next_state,
                       " = 'queued' THEN NULL ELSE ", kNow, " END, updated_at = ", kNow,
                       ", last_event_seq = last_event_seq + 1", kFence),
          kNow,
          "CASE changed.state WHEN 'queued' THEN 'will retry after: ' ELSE '' END"
          " || changed.error_reason || ': ' || changed.error"),
      std::move(params));
}

absl::Status JobQueue::MarkCancelled(const LeaseToken& lease, absl::Time now) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  return FencedWrite(conn->get(), lease,
                     WithJobEvent(absl::StrCat("UPDATE jobs SET state = 'cancelled',", kClearLease,
                                               " finished_at = ", kNow, ", updated_at = ", kNow,
                                               ", last_event_seq = last_event_seq + 1", kFence),
                                  kNow, "'cancelled'"),
                     FenceParams(lease, now));
}

absl::Status JobQueue::Release(const LeaseToken& lease, absl::Time now) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  const std::string next_state =
      "(CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled' ELSE 'queued' END)";
  return FencedWrite(
      conn->get(), lease,
      WithJobEvent(
          absl::StrCat("UPDATE jobs SET state = ", next_state, ", attempt = CASE WHEN ", next_state,
                       " = 'queued' THEN attempt - 1 ELSE attempt END,", kClearLease,
                       " scheduled_at = ", kNow, ", finished_at = CASE WHEN ", next_state,
                       " = 'queued' THEN NULL ELSE ", kNow, " END, updated_at = ", kNow,
                       ", last_event_seq = last_event_seq + 1", kFence),
          kNow,
          "CASE changed.state WHEN 'queued' THEN 'released by its worker; requeued'"
          " ELSE 'cancelled' END"),
      FenceParams(lease, now));
}

absl::StatusOr<int> JobQueue::ReapExpiredLeases(absl::Time now) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Transaction> txn = Transaction::Begin(conn->get());
  if (!txn.ok()) return txn.status();
  absl::StatusOr<Result> locked =
      (*conn)->Exec("SELECT pg_try_advisory_xact_lock($1::bigint)", {kReaperLockKey});
  if (!locked.ok()) return locked.status();
  if (!locked->Bool(0, 0)) return 0;  // another reaper is at work
  const std::string next_state =
      "(CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled'"
      " WHEN attempt < max_attempts THEN 'queued' ELSE 'failed' END)";
  absl::StatusOr<Result> reaped = (*conn)->Exec(
      absl::StrCat(
          "WITH expired AS (SELECT id AS expired_id FROM jobs WHERE state = 'running'"
          " AND lease_expires_at < $1::timestamptz FOR UPDATE SKIP LOCKED),",
          WithJobEvent(
              absl::StrCat(
                  "UPDATE jobs SET state = ", next_state, ", error_reason = CASE WHEN ", next_state,
                  " = 'failed' THEN 'LEASE_EXPIRED' ELSE error_reason END,"
                  " error = CASE WHEN ",
                  next_state,
                  " = 'failed' THEN 'the worker stopped heartbeating and no attempts are left'"
                  " ELSE error END, lease_owner = NULL, lease_expires_at = NULL,"
                  " scheduled_at = CASE WHEN ",
                  next_state, " = 'queued' THEN $1::timestamptz + ", kBackoff,
                  " ELSE scheduled_at END, finished_at = CASE WHEN ", next_state,
                  " = 'queued' THEN NULL ELSE $1::timestamptz END, updated_at = $1::timestamptz,"
                  " last_event_seq = last_event_seq + 1 FROM expired WHERE id = expired_id"),
              "$1::timestamptz",
              "CASE changed.state WHEN 'queued' THEN 'lease expired; requeued'"
              " WHEN 'failed' THEN 'lease expired; no attempts left' ELSE 'cancelled' END")
              .substr(5)),  // drop WithJobEvent's leading "WITH "
      {Param::Time(now)});
  if (!reaped.ok()) return reaped.status();
  if (absl::Status committed = txn->Commit(); !committed.ok()) return committed;
  return reaped->rows();
}

absl::Status JobQueue::WaitForWork(absl::Duration timeout) {
  std::lock_guard<std::mutex> lock(listen_mu_);
  if (listener_ == nullptr || listener_->IsBroken()) {
    listener_.reset();
    absl::StatusOr<std::unique_ptr<Connection>> conn =
        Connection::Open(pool_->url(), absl::Seconds(5));
    if (!conn.ok()) return conn.status();
    if (auto listening = (*conn)->Exec("LISTEN prune_jobs"); !listening.ok()) {
      return listening.status();
    }
    listener_ = *std::move(conn);
  }
  absl::StatusOr<int> pending = listener_->ConsumeNotifications();
  if (!pending.ok()) {
    listener_.reset();
    return pending.status();
  }
  if (*pending > 0) return absl::OkStatus();
  pollfd fd{listener_->Socket(), POLLIN, 0};
  const int ready = poll(&fd, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (ready > 0) {
    absl::StatusOr<int> received = listener_->ConsumeNotifications();
    if (!received.ok()) {
      listener_.reset();
      return received.status();
    }
  }
  return absl::OkStatus();  // a notification or the timeout: either way, poll the queue
}

}  // namespace prune::db
