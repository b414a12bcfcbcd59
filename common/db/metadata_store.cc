#include "common/db/metadata_store.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/db/connection.h"
#include "common/db/connection_pool.h"
#include "common/db/job_rows.h"
#include "common/db/page_token.h"

namespace prune::db {
namespace {

// SQL condition selecting a live row by id (when the text is a uuid) or by
// display name; $2 holds the text. Always combined with `tenant = $1`.
std::string IdOrNameCondition(const std::string& alias, const std::string& id_or_name) {
  return LooksLikeUuid(id_or_name) ? absl::StrCat(alias, ".id = $2::uuid")
                                   : absl::StrCat(alias, ".display_name = $2");
}

absl::Status NotFound(const char* reason, const std::string& what) {
  return absl::NotFoundError(absl::StrCat(reason, ": ", what));
}

template <typename Record, typename Decode>
absl::StatusOr<Page<Record>> ListPage(Connection* conn, const std::string& table,
                                      const std::string& columns, const std::string& tenant,
                                      int page_size, const std::string& page_token, Decode decode) {
  const int limit = ClampPageSize(page_size);
  std::vector<Param> params = {tenant, static_cast<int32_t>(limit + 1)};
  std::string after;
  if (!page_token.empty()) {
    absl::StatusOr<PageKey> key = DecodePageToken(page_token, table);
    if (!key.ok()) return key.status();
    after = " AND (t.created_at, t.id) > ($3::timestamptz, $4::uuid)";
    params.push_back(Param::Time(key->created_at));
    params.push_back(key->id);
  }
  absl::StatusOr<Result> rows =
      conn->Exec(absl::StrCat("SELECT ", columns, " FROM ", table,
                              " t WHERE t.tenant = $1 AND t.deleted_at IS NULL", after,
                              " ORDER BY t.created_at, t.id LIMIT $2::integer"),
                 params);
  if (!rows.ok()) return rows.status();
  Page<Record> page;
  for (int i = 0; i < rows->rows() && i < limit; ++i) page.items.push_back(decode(*rows, i, 0));
  if (rows->rows() > limit) {
    page.next_page_token =
        EncodePageToken({table, page.items.back().created_at, page.items.back().id});
  }
  return page;
}

// Soft-deletes a model or dataset unless an unfinished job uses it. The row
// lock taken first makes a concurrent CreateJob (which holds FOR SHARE on
// the row) finish before the jobs check runs, so no queued job can be left
// pointing at a deleted input.
absl::Status SoftDelete(Connection* conn, const std::string& table, const std::string& job_column,
                        const char* not_found_reason, const char* in_use_reason,
                        const std::string& tenant, const std::string& id_or_name) {
  absl::StatusOr<Transaction> txn = Transaction::Begin(conn);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<Result> row =
      conn->Exec(absl::StrCat("SELECT t.id FROM ", table,
                              " t WHERE t.tenant = $1 AND t.deleted_at IS NULL AND ",
                              IdOrNameCondition("t", id_or_name), " FOR UPDATE"),
                 {tenant, id_or_name});
  if (!row.ok()) return row.status();
  if (row->rows() == 0) return NotFound(not_found_reason, id_or_name);
  const std::string id = row->Text(0, 0);
  absl::StatusOr<Result> active =
      conn->Exec(absl::StrCat("SELECT 1 FROM jobs WHERE ", job_column,
                              " = $1::uuid AND state IN ('queued', 'running') LIMIT 1"),
                 {id});
  if (!active.ok()) return active.status();
  if (active->rows() > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(in_use_reason, ": ", id_or_name, " is used by a queued or running job"));
  }
  absl::StatusOr<Result> deleted = conn->Exec(
      absl::StrCat("UPDATE ", table, " SET deleted_at = now() WHERE id = $1::uuid"), {id});
  if (!deleted.ok()) return deleted.status();
  return txn->Commit();
}

std::string ShapeArray(const std::vector<int64_t>& shape) {
  return absl::StrCat("{", absl::StrJoin(shape, ","), "}");
}

absl::StatusOr<JobRecord> ReadJob(Connection* conn, const std::string& tenant,
                                  const std::string& job_id) {
  if (!LooksLikeUuid(job_id)) return NotFound("JOB_NOT_FOUND", job_id);
  absl::StatusOr<Result> row =
      conn->Exec(absl::StrCat("SELECT ", JobColumns("j"),
                              " FROM jobs j WHERE j.tenant = $1 AND j.id = $2::uuid"),
                 {tenant, job_id});
  if (!row.ok()) return row.status();
  if (row->rows() == 0) return NotFound("JOB_NOT_FOUND", job_id);
  return JobFromRow(*row, 0);
}

absl::StatusOr<std::optional<JobRecord>> FindByRequestId(Connection* conn,
                                                         const std::string& tenant,
                                                         const std::string& request_id) {
  absl::StatusOr<Result> row =
      conn->Exec(absl::StrCat("SELECT ", JobColumns("j"),
                              " FROM jobs j WHERE j.tenant = $1 AND j.request_id = $2"),
                 {tenant, request_id});
  if (!row.ok()) return row.status();
  if (row->rows() == 0) return std::optional<JobRecord>();
  return std::optional<JobRecord>(JobFromRow(*row, 0));
}

absl::StatusOr<JobRecord> RepeatedRequest(const JobRecord& first, const JobParameters& params,
                                          const std::string& request_id) {
  if (!SameJobParameters(first.params, params)) {
    return absl::InvalidArgumentError(absl::StrCat("REQUEST_ID_REUSED: request_id ", request_id,
                                                   " was used for job ", first.id,
                                                   " with different parameters"));
  }
  return first;
}

}  // namespace

MetadataStore::MetadataStore(ConnectionPool* pool) : pool_(pool) {}

absl::Status MetadataStore::EnsureTenant(const std::string& tenant) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  return (*conn)
      ->Exec("INSERT INTO tenants (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", {tenant})
      .status();
}

absl::StatusOr<ModelRecord> MetadataStore::CreateModel(const std::string& tenant,
                                                       const std::string& display_name,
                                                       const std::vector<int64_t>& input_shape,
                                                       const std::string& sha256,
                                                       int64_t size_bytes) {
  if (display_name.empty()) return absl::InvalidArgumentError("display_name must not be empty");
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  // Selecting from blobs makes a missing or differently sized blob a clean
  // FAILED_PRECONDITION instead of a dangling model.
  absl::StatusOr<Result> row = (*conn)->Exec(
      absl::StrCat("INSERT INTO models AS m (tenant, display_name, input_shape, sha256, size_bytes)"
                   " SELECT $1, $2, $3::bigint[], b.sha256, b.size_bytes FROM blobs b"
                   " WHERE b.sha256 = $4 AND b.size_bytes = $5::bigint RETURNING ",
                   ModelColumns("m")),
      {tenant, display_name, ShapeArray(input_shape), sha256, size_bytes});
  if (absl::IsAlreadyExists(row.status())) {
    return absl::AlreadyExistsError(
        absl::StrCat("MODEL_EXISTS: a model named '", display_name, "' already exists"));
  }
  if (absl::IsFailedPrecondition(row.status())) {
    return absl::FailedPreconditionError(absl::StrCat("TENANT_NOT_FOUND: ", tenant));
  }
  if (!row.ok()) return row.status();
  if (row->rows() == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("BLOB_NOT_FOUND: no uploaded blob ", sha256, " of ", size_bytes, " bytes"));
  }
  return ModelFromRow(*row, 0);
}

absl::StatusOr<ModelRecord> MetadataStore::GetModel(const std::string& tenant,
                                                    const std::string& id_or_name) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> row =
      (*conn)->Exec(absl::StrCat("SELECT ", ModelColumns("m"),
                                 " FROM models m WHERE m.tenant = $1 AND m.deleted_at IS NULL AND ",
                                 IdOrNameCondition("m", id_or_name)),
                    {tenant, id_or_name});
  if (!row.ok()) return row.status();
  if (row->rows() == 0) return NotFound("MODEL_NOT_FOUND", id_or_name);
  return ModelFromRow(*row, 0);
}

absl::StatusOr<Page<ModelRecord>> MetadataStore::ListModels(const std::string& tenant,
                                                            int page_size,
                                                            const std::string& page_token) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  return ListPage<ModelRecord>(
      conn->get(), "models", ModelColumns("t"), tenant, page_size, page_token,
      [](const Result& r, int row, int c) { return ModelFromRow(r, row, c); });
}

absl::Status MetadataStore::DeleteModel(const std::string& tenant, const std::string& id_or_name) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  return SoftDelete(conn->get(), "models", "model_id", "MODEL_NOT_FOUND", "MODEL_IN_USE", tenant,
                    id_or_name);
}

absl::StatusOr<DatasetRecord> MetadataStore::CreateDataset(const std::string& tenant,
                                                           const std::string& display_name,
                                                           const std::string& sha256,
                                                           int64_t size_bytes) {
  if (display_name.empty()) return absl::InvalidArgumentError("display_name must not be empty");
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> row = (*conn)->Exec(
      absl::StrCat("INSERT INTO datasets AS d (tenant, display_name, sha256, size_bytes)"
                   " SELECT $1, $2, b.sha256, b.size_bytes FROM blobs b"
                   " WHERE b.sha256 = $3 AND b.size_bytes = $4::bigint RETURNING ",
                   DatasetColumns("d")),
      {tenant, display_name, sha256, size_bytes});
  if (absl::IsAlreadyExists(row.status())) {
    return absl::AlreadyExistsError(
        absl::StrCat("DATASET_EXISTS: a dataset named '", display_name, "' already exists"));
  }
  if (absl::IsFailedPrecondition(row.status())) {
    return absl::FailedPreconditionError(absl::StrCat("TENANT_NOT_FOUND: ", tenant));
  }
  if (!row.ok()) return row.status();
  if (row->rows() == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("BLOB_NOT_FOUND: no uploaded blob ", sha256, " of ", size_bytes, " bytes"));
  }
  return DatasetFromRow(*row, 0);
}

absl::StatusOr<DatasetRecord> MetadataStore::GetDataset(const std::string& tenant,
                                                        const std::string& id_or_name) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> row = (*conn)->Exec(
      absl::StrCat("SELECT ", DatasetColumns("d"),
                   " FROM datasets d WHERE d.tenant = $1 AND d.deleted_at IS NULL AND ",
                   IdOrNameCondition("d", id_or_name)),
      {tenant, id_or_name});
  if (!row.ok()) return row.status();
  if (row->rows() == 0) return NotFound("DATASET_NOT_FOUND", id_or_name);
  return DatasetFromRow(*row, 0);
}

absl::StatusOr<Page<DatasetRecord>> MetadataStore::ListDatasets(const std::string& tenant,
                                                                int page_size,
                                                                const std::string& page_token) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  return ListPage<DatasetRecord>(
      conn->get(), "datasets", DatasetColumns("t"), tenant, page_size, page_token,
      [](const Result& r, int row, int c) { return DatasetFromRow(r, row, c); });
}

absl::Status MetadataStore::DeleteDataset(const std::string& tenant,
                                          const std::string& id_or_name) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  return SoftDelete(conn->get(), "datasets", "dataset_id", "DATASET_NOT_FOUND", "DATASET_IN_USE",
                    tenant, id_or_name);
}

absl::StatusOr<JobRecord> MetadataStore::CreateJob(const std::string& tenant,
                                                   const JobParameters& requested,
                                                   const std::string& request_id) {
  if (requested.max_attempts < 1) return absl::InvalidArgumentError("max_attempts must be >= 1");
  if (requested.strategy.empty()) return absl::InvalidArgumentError("strategy must not be empty");
  absl::StatusOr<ConnectionPool::Lease> lease = pool_->Acquire();
  if (!lease.ok()) return lease.status();
  Connection* conn = lease->get();
  absl::StatusOr<Transaction> txn = Transaction::Begin(conn);
  if (!txn.ok()) return txn.status();

  // FOR SHARE keeps the inputs from being deleted until this job is visible.
  JobParameters params = requested;
  absl::StatusOr<Result> model = conn->Exec(
      absl::StrCat("SELECT m.id FROM models m WHERE m.tenant = $1 AND m.deleted_at IS NULL AND ",
                   IdOrNameCondition("m", requested.model_id), " FOR SHARE"),
      {tenant, requested.model_id});
  if (!model.ok()) return model.status();
  if (model->rows() == 0) return NotFound("MODEL_NOT_FOUND", requested.model_id);
  params.model_id = model->Text(0, 0);
  if (!requested.dataset_id.empty()) {
    absl::StatusOr<Result> dataset = conn->Exec(
        absl::StrCat(
            "SELECT d.id FROM datasets d WHERE d.tenant = $1 AND d.deleted_at IS NULL AND ",
            IdOrNameCondition("d", requested.dataset_id), " FOR SHARE"),
        {tenant, requested.dataset_id});
    if (!dataset.ok()) return dataset.status();
    if (dataset->rows() == 0) return NotFound("DATASET_NOT_FOUND", requested.dataset_id);
    params.dataset_id = dataset->Text(0, 0);
  }

  // The tenant row lock serialises this tenant's creates, so the queued count
  // below cannot be raced past the limit. FOR NO KEY UPDATE does not block
  // the FOR KEY SHARE of foreign-key checks (uploads and the like).
  absl::StatusOr<Result> quota =
      conn->Exec("SELECT max_queued_jobs FROM tenants WHERE name = $1 FOR NO KEY UPDATE", {tenant});
  if (!quota.ok()) return quota.status();
  if (quota->rows() == 0) return NotFound("TENANT_NOT_FOUND", tenant);
  if (!request_id.empty()) {
    // A repeat returns the first job even when the tenant is at its limit.
    absl::StatusOr<std::optional<JobRecord>> first = FindByRequestId(conn, tenant, request_id);
    if (!first.ok()) return first.status();
    if (first->has_value()) {
      if (absl::Status committed = txn->Commit(); !committed.ok()) return committed;
      return RepeatedRequest(**first, params, request_id);
    }
  }
  if (!quota->IsNull(0, 0)) {
    const int64_t limit = quota->Int64(0, 0);
    absl::StatusOr<Result> queued =
        conn->Exec("SELECT count(*) FROM jobs WHERE tenant = $1 AND state = 'queued'", {tenant});
    if (!queued.ok()) return queued.status();
    const int64_t count = queued->Int64(0, 0);
    if (count >= limit) {
      return absl::ResourceExhaustedError(
          absl::StrCat("QUOTA_QUEUED_JOBS: ", count, " queued jobs (limit ", limit, ")"));
    }
  }

  const std::optional<std::string> request =
      request_id.empty() ? std::nullopt : std::optional<std::string>(request_id);
  // ON CONFLICT makes a concurrent duplicate wait for the first insert and
  // then insert nothing; the first job is read back below.
  absl::StatusOr<Result> inserted = conn->Exec(
      absl::StrCat(
          "WITH job AS ("
          " INSERT INTO jobs (tenant, model_id, dataset_id, spec, strategy, priority,"
          "                   max_attempts, request_id, last_event_seq)"
          " VALUES ($1, $2::uuid, $3::uuid, $4::jsonb, $5, $6::integer, $7::integer, $8, 1)"
          " ON CONFLICT (tenant, request_id) WHERE request_id IS NOT NULL DO NOTHING"
          " RETURNING *),"
          " event AS (INSERT INTO job_events (job_id, sequence, time, state, message)"
          "  SELECT job.id, 1, job.created_at, 'queued', 'job queued' FROM job)"
          " SELECT ",
          JobColumns("job"), " FROM job"),
      {tenant, params.model_id,
       params.dataset_id.empty() ? Param(std::nullopt) : Param(params.dataset_id),
       EncodeJobSpec(params), params.strategy, params.priority, params.max_attempts, request});
  if (!inserted.ok()) return inserted.status();
  if (inserted->rows() == 1) {
    JobRecord job = JobFromRow(*inserted, 0);
    if (absl::Status committed = txn->Commit(); !committed.ok()) return committed;
    return job;
  }
  // A repeat of an earlier request (the NOTIFY trigger did not fire).
  absl::StatusOr<std::optional<JobRecord>> first = FindByRequestId(conn, tenant, request_id);
  if (!first.ok()) return first.status();
  if (!first->has_value()) {
    return absl::AbortedError("request_id conflict with a job that vanished; retry");
  }
  if (absl::Status committed = txn->Commit(); !committed.ok()) return committed;
  return RepeatedRequest(**first, params, request_id);
}

absl::StatusOr<int64_t> MetadataStore::StoredBytes(const std::string& tenant,
                                                   const std::string& except_staged_sha256) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  // Staged chunks are whole 1 MiB rows (see BlobWriter), so counting them is
  // enough and reads no chunk data.
  absl::StatusOr<Result> row = (*conn)->Exec(
      "SELECT (coalesce((SELECT sum(size_bytes) FROM models"
      "                  WHERE tenant = $1 AND deleted_at IS NULL), 0)"
      "      + coalesce((SELECT sum(size_bytes) FROM datasets"
      "                  WHERE tenant = $1 AND deleted_at IS NULL), 0)"
      "      + (SELECT count(*) FROM blob_chunks c JOIN blob_uploads u ON u.id = c.upload_id"
      "         WHERE u.tenant = $1 AND u.expected_sha256 <> $2) * 1048576)::bigint",
      {tenant, except_staged_sha256});
  if (!row.ok()) return row.status();
  return row->Int64(0, 0);
}

absl::Status MetadataStore::CheckStorageQuota(const std::string& tenant, int64_t incoming_bytes,
                                              const std::string& incoming_sha256) {
  absl::StatusOr<int64_t> stored = StoredBytes(tenant, incoming_sha256);
  if (!stored.ok()) return stored.status();
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> row =
      (*conn)->Exec("SELECT max_stored_bytes FROM tenants WHERE name = $1", {tenant});
  if (!row.ok()) return row.status();
  if (row->rows() == 0) return NotFound("TENANT_NOT_FOUND", tenant);
  if (row->IsNull(0, 0)) return absl::OkStatus();
  const int64_t limit = row->Int64(0, 0);
  if (*stored + incoming_bytes > limit) {
    return absl::ResourceExhaustedError(
        absl::StrCat("QUOTA_STORED_BYTES: ", *stored, " bytes stored + ", incoming_bytes,
                     " bytes uploaded would exceed the limit of ", limit, " bytes"));
  }
  return absl::OkStatus();
}

absl::StatusOr<JobRecord> MetadataStore::GetJob(const std::string& tenant,
                                                const std::string& job_id) {
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  return ReadJob(conn->get(), tenant, job_id);
}

absl::StatusOr<Page<JobRecord>> MetadataStore::ListJobs(const std::string& tenant,
                                                        std::optional<JobState> state,
                                                        int page_size,
                                                        const std::string& page_token,
                                                        const std::string& model_id) {
  const int limit = ClampPageSize(page_size);
  const std::string query = absl::StrCat("jobs:", state ? JobStateName(*state) : "*", ":",
                                         model_id.empty() ? "*" : model_id);
  std::vector<Param> params = {tenant, static_cast<int32_t>(limit + 1)};
  std::string where = "j.tenant = $1";
  if (state) {
    params.push_back(JobStateName(*state));
    where += absl::StrCat(" AND j.state = $", params.size());
  }
  if (!model_id.empty()) {
    params.push_back(model_id);
    where += absl::StrCat(" AND j.spec->>'model_id' = $", params.size());
  }
  if (!page_token.empty()) {
    absl::StatusOr<PageKey> key = DecodePageToken(page_token, query);
    if (!key.ok()) return key.status();
    params.push_back(Param::Time(key->created_at));
    params.push_back(key->id);
    where += absl::StrCat(" AND (j.created_at, j.id) < ($", params.size() - 1, "::timestamptz, $",
                          params.size(), "::uuid)");
  }
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> rows =
      (*conn)->Exec(absl::StrCat("SELECT ", JobColumns("j"), " FROM jobs j WHERE ", where,
                                 " ORDER BY j.created_at DESC, j.id DESC LIMIT $2::integer"),
                    params);
  if (!rows.ok()) return rows.status();
  Page<JobRecord> page;
  for (int i = 0; i < rows->rows() && i < limit; ++i) page.items.push_back(JobFromRow(*rows, i));
  if (rows->rows() > limit) {
    page.next_page_token =
        EncodePageToken({query, page.items.back().created_at, page.items.back().id});
  }
  return page;
}

absl::StatusOr<JobRecord> MetadataStore::CancelJob(const std::string& tenant,
                                                   const std::string& job_id) {
  if (!LooksLikeUuid(job_id)) return NotFound("JOB_NOT_FOUND", job_id);
  absl::StatusOr<ConnectionPool::Lease> lease = pool_->Acquire();
  if (!lease.ok()) return lease.status();
  Connection* conn = lease->get();
  absl::StatusOr<Transaction> txn = Transaction::Begin(conn);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<Result> row = conn->Exec(
      "SELECT state, cancel_requested_at IS NOT NULL FROM jobs"
      " WHERE tenant = $1 AND id = $2::uuid FOR UPDATE",
      {tenant, job_id});
  if (!row.ok()) return row.status();
  if (row->rows() == 0) return NotFound("JOB_NOT_FOUND", job_id);
  const JobState state = ParseJobState(row->Text(0, 0)).value_or(JobState::kQueued);
  if (IsTerminal(state)) {
    return absl::FailedPreconditionError(
        absl::StrCat("JOB_FINISHED: job ", job_id, " is already ", JobStateName(state)));
  }
  if (state == JobState::kQueued) {
    absl::StatusOr<Result> cancelled =
        conn->Exec(WithJobEvent("UPDATE jobs SET state = 'cancelled', cancel_requested_at = now(),"
                                " finished_at = now(), updated_at = now(),"
                                " last_event_seq = last_event_seq + 1 WHERE id = $1::uuid",
                                "now()", "'cancelled before it started'"),
                   {job_id});
    if (!cancelled.ok()) return cancelled.status();
  } else if (!row->Bool(0, 1)) {
    // The running worker sees the request on its next heartbeat.
    absl::StatusOr<Result> requested =
        conn->Exec(WithJobEvent("UPDATE jobs SET cancel_requested_at = now(), updated_at = now(),"
                                " last_event_seq = last_event_seq + 1 WHERE id = $1::uuid",
                                "now()", "'cancellation requested'"),
                   {job_id});
    if (!requested.ok()) return requested.status();
  }
  absl::StatusOr<JobRecord> job = ReadJob(conn, tenant, job_id);
  if (!job.ok()) return job.status();
  if (absl::Status committed = txn->Commit(); !committed.ok()) return committed;
  return job;
}

absl::StatusOr<std::vector<JobEventRecord>> MetadataStore::ListJobEvents(const std::string& tenant,
                                                                         const std::string& job_id,
                                                                         int64_t after_sequence,
                                                                         int limit) {
  if (!LooksLikeUuid(job_id)) return NotFound("JOB_NOT_FOUND", job_id);
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> job =
      (*conn)->Exec("SELECT 1 FROM jobs WHERE tenant = $1 AND id = $2::uuid", {tenant, job_id});
  if (!job.ok()) return job.status();
  if (job->rows() == 0) return NotFound("JOB_NOT_FOUND", job_id);
  absl::StatusOr<Result> rows =
      (*conn)->Exec(absl::StrCat("SELECT sequence, ", Micros("time"),
                                 ", state, progress, stage, message FROM job_events"
                                 " WHERE job_id = $1::uuid AND sequence > $2::bigint"
                                 " ORDER BY sequence LIMIT $3::integer"),
                    {job_id, after_sequence, static_cast<int32_t>(ClampPageSize(limit))});
  if (!rows.ok()) return rows.status();
  std::vector<JobEventRecord> events;
  for (int i = 0; i < rows->rows(); ++i) {
    JobEventRecord event;
    event.sequence = rows->Int64(i, 0);
    event.time = rows->TimeFromMicros(i, 1);
    event.state = ParseJobState(rows->Text(i, 2)).value_or(JobState::kQueued);
    event.progress = rows->Double(i, 3);
    event.stage = rows->Text(i, 4);
    event.message = rows->Text(i, 5);
    events.push_back(std::move(event));
  }
  return events;
}

absl::StatusOr<Page<CandidateRecord>> MetadataStore::ListCandidates(
    const std::string& tenant, const std::string& job_id, bool pareto_only, int page_size,
    const std::string& page_token) {
  if (!LooksLikeUuid(job_id)) return NotFound("JOB_NOT_FOUND", job_id);
  const int limit = ClampPageSize(page_size);
  // The token's key is the last index (its time part is unused); it only
  // fits the same job and filter.
  const std::string query = absl::StrCat("candidates:", job_id, pareto_only ? ":pareto" : ":all");
  int64_t after = -1;
  if (!page_token.empty()) {
    absl::StatusOr<PageKey> key = DecodePageToken(page_token, query);
    if (!key.ok()) return key.status();
    if (!absl::SimpleAtoi(key->id, &after)) {
      return absl::InvalidArgumentError("INVALID_PAGE_TOKEN: not a page token");
    }
  }
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> job =
      (*conn)->Exec("SELECT 1 FROM jobs WHERE tenant = $1 AND id = $2::uuid", {tenant, job_id});
  if (!job.ok()) return job.status();
  if (job->rows() == 0) return NotFound("JOB_NOT_FOUND", job_id);
  absl::StatusOr<Result> rows = (*conn)->Exec(
      absl::StrCat("SELECT idx, macs, params, score, feasible, pareto,"
                   " array_to_string(ARRAY(SELECT jsonb_array_elements_text(widths)), ',')"
                   " FROM job_candidates WHERE job_id = $1::uuid AND idx > $2::bigint",
                   pareto_only ? " AND pareto" : "", " ORDER BY idx LIMIT $3::integer"),
      {job_id, after, static_cast<int32_t>(limit + 1)});
  if (!rows.ok()) return rows.status();
  Page<CandidateRecord> page;
  for (int i = 0; i < rows->rows() && i < limit; ++i) {
    CandidateRecord candidate;
    candidate.index = rows->Int64(i, 0);
    candidate.macs = rows->Int64(i, 1);
    candidate.params = rows->Int64(i, 2);
    candidate.score = rows->Double(i, 3);
    candidate.feasible = rows->Bool(i, 4);
    candidate.pareto = rows->Bool(i, 5);
    for (absl::string_view width : absl::StrSplit(rows->Text(i, 6), ',', absl::SkipEmpty())) {
      int64_t value = 0;
      if (absl::SimpleAtoi(width, &value)) candidate.widths.push_back(value);
    }
    page.items.push_back(std::move(candidate));
  }
  if (rows->rows() > limit) {
    page.next_page_token =
        EncodePageToken({query, absl::UnixEpoch(), absl::StrCat(page.items.back().index)});
  }
  return page;
}

absl::StatusOr<ArtifactRecord> MetadataStore::GetArtifact(const std::string& tenant,
                                                          const std::string& job_id,
                                                          ArtifactKind kind) {
  if (!LooksLikeUuid(job_id)) return NotFound("JOB_NOT_FOUND", job_id);
  absl::StatusOr<ConnectionPool::Lease> conn = pool_->Acquire();
  if (!conn.ok()) return conn.status();
  absl::StatusOr<Result> row = (*conn)->Exec(
      "SELECT a.sha256, a.size_bytes FROM job_artifacts a JOIN jobs j ON j.id = a.job_id"
      " WHERE j.tenant = $1 AND j.id = $2::uuid AND j.state = 'succeeded' AND a.kind = $3",
      {tenant, job_id, ArtifactKindName(kind)});
  if (!row.ok()) return row.status();
  if (row->rows() == 0) {
    return NotFound("ARTIFACT_NOT_FOUND", absl::StrCat(job_id, "/", ArtifactKindName(kind)));
  }
  ArtifactRecord artifact;
  artifact.kind = kind;
  artifact.sha256 = row->Text(0, 0);
  artifact.size_bytes = row->Int64(0, 1);
  return artifact;
}

}  // namespace prune::db
