// Tenants' models, datasets and jobs as the API sees them. Every call takes the
// caller's tenant; a resource of another tenant is NOT_FOUND, never visible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/db/records.h"

namespace prune::db {

class ConnectionPool;

class MetadataStore {
 public:
  explicit MetadataStore(ConnectionPool* pool);

  // Creates the tenant if missing (used for the single-tenant default setup).
  absl::Status EnsureTenant(const std::string& tenant);

  // ALREADY_EXISTS when the tenant has a model with this display name.
  absl::StatusOr<ModelRecord> CreateModel(const std::string& tenant, const std::string& display_name,
                                          const std::vector<int64_t>& input_shape,
                                          const std::string& sha256, int64_t size_bytes);
  // id_or_name: a uuid or a display name.
  absl::StatusOr<ModelRecord> GetModel(const std::string& tenant, const std::string& id_or_name);
  absl::StatusOr<Page<ModelRecord>> ListModels(const std::string& tenant, int page_size,
                                               const std::string& page_token);
  // FAILED_PRECONDITION while a queued or running job uses it.
  absl::Status DeleteModel(const std::string& tenant, const std::string& id_or_name);

  absl::StatusOr<DatasetRecord> CreateDataset(const std::string& tenant,
                                              const std::string& display_name,
                                              const std::string& sha256, int64_t size_bytes);
  absl::StatusOr<DatasetRecord> GetDataset(const std::string& tenant,
                                           const std::string& id_or_name);
  absl::StatusOr<Page<DatasetRecord>> ListDatasets(const std::string& tenant, int page_size,
                                                   const std::string& page_token);
  absl::Status DeleteDataset(const std::string& tenant, const std::string& id_or_name);

  // Enqueues a job (state queued) and its first event. With a non-empty
  // request_id a repeat returns the first job; a repeat with different
  // parameters is INVALID_ARGUMENT ("REQUEST_ID_REUSED: ...").
  // RESOURCE_EXHAUSTED ("QUOTA_QUEUED_JOBS: N queued jobs (limit L)") when the
  // tenant already has max_queued_jobs queued jobs; creates of one tenant are
  // serialised on its tenants row, so the limit is exact. (max_running_jobs
  // is enforced by JobQueue::Claim: such jobs wait in the queue.)
  // NOTIFYs channel prune_jobs so idle workers wake up.
  absl::StatusOr<JobRecord> CreateJob(const std::string& tenant, const JobParameters& params,
                                      const std::string& request_id);
  // Bytes the tenant stores: the declared sizes of its live models and
  // datasets (content shared with other rows is counted each time), plus the
  // chunks of its uploads still staged (broken ones wait for a resume until
  // the purge: they must not be a way around the quota). Staged uploads of
  // `except_staged_sha256` are left out: the upload being resumed is
  // counted whole as incoming.
  absl::StatusOr<int64_t> StoredBytes(const std::string& tenant,
                                      const std::string& except_staged_sha256 = "");
  // RESOURCE_EXHAUSTED ("QUOTA_STORED_BYTES: ...", with the current usage)
  // when StoredBytes + incoming_bytes exceeds the tenant's max_stored_bytes.
  // Checked when an upload starts; concurrent uploads of one tenant may
  // together overshoot by up to one upload each.
  absl::Status CheckStorageQuota(const std::string& tenant, int64_t incoming_bytes,
                                 const std::string& incoming_sha256 = "");

  absl::StatusOr<JobRecord> GetJob(const std::string& tenant, const std::string& job_id);
  // state filter: nullopt = all; model_id filter: "" = all. Newest first.
  absl::StatusOr<Page<JobRecord>> ListJobs(const std::string& tenant,
                                           std::optional<JobState> state, int page_size,
                                           const std::string& page_token,
                                           const std::string& model_id = "");
  // Queued → cancelled at once (event appended); running → cancel_requested
  // set (the worker stops and marks it cancelled); terminal →
  // FAILED_PRECONDITION. Returns the job after the change.
  absl::StatusOr<JobRecord> CancelJob(const std::string& tenant, const std::string& job_id);
  // Events with sequence > after_sequence, oldest first, at most `limit`.
  absl::StatusOr<std::vector<JobEventRecord>> ListJobEvents(const std::string& tenant,
                                                            const std::string& job_id,
                                                            int64_t after_sequence, int limit);
  // The candidates a search evaluated for the job, in index order; only the
  // Pareto-optimal ones with pareto_only. Empty for jobs without a search or
  // not yet succeeded. NOT_FOUND ("JOB_NOT_FOUND") for another tenant's job.
  absl::StatusOr<Page<CandidateRecord>> ListCandidates(const std::string& tenant,
                                                       const std::string& job_id,
                                                       bool pareto_only, int page_size,
                                                       const std::string& page_token);
  // NOT_FOUND unless the job succeeded and stored this artifact.
  absl::StatusOr<ArtifactRecord> GetArtifact(const std::string& tenant, const std::string& job_id,
                                             ArtifactKind kind);

 private:
  ConnectionPool* pool_;
};

}  // namespace prune::db
