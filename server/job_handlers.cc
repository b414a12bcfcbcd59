// The job handlers of PruneServiceImpl: CreateJob, Get/List/CancelJob,
// WatchJob, ListCandidates and DownloadArtifact.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/job_spec_validation.h"
#include "server/proto_conversion.h"
#include "server/prune_service.h"
#include "server/resource_names.h"
#include "server/status_conversion.h"

namespace prune::server {
namespace {

constexpr int kWatchBatch = 100;
constexpr absl::Duration kWatchWakeup = absl::Milliseconds(50);

// Job ids are uuids; anything else cannot exist, and must not reach SQL as a
// malformed uuid (that would be an INTERNAL error, not NOT_FOUND).
bool IsUuid(absl::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (id[i] == '-')) return false;
    if (!dash && !absl::ascii_isxdigit(static_cast<unsigned char>(id[i]))) return false;
  }
  return true;
}

std::string StateName(db::JobState state) { return v1::Job::State_Name(ToProto(state)); }

}  // namespace

absl::StatusOr<db::JobRecord> PruneServiceImpl::FindJob(const std::string& tenant,
                                                        const std::string& reference) const {
  absl::StatusOr<std::string> id = ResolveReference(reference, tenant, kJobs, "JOB_NOT_FOUND");
  if (!id.ok()) return id.status();
  if (!IsUuid(*id)) {
    return absl::NotFoundError(
        absl::StrCat("JOB_NOT_FOUND: no job '", reference, "' in this tenant (job ids are uuids)"));
  }
  absl::StatusOr<db::JobRecord> job = store_->GetJob(tenant, *id);
  if (!job.ok()) return RenameNotFound(job.status(), "JOB_NOT_FOUND", "job", reference);
  return job;
}

grpc::Status PruneServiceImpl::CreateJob(grpc::ServerContext* context,
                                         const v1::CreateJobRequest* request, v1::Job* response) {
  return Handle("CreateJob", context, [&](const std::string& tenant) -> absl::Status {
    if (absl::Status s = ValidateRequestId(request->request_id()); !s.ok()) return s;
    absl::StatusOr<ValidatedJobSpec> spec = ValidateJobSpec(request->job());
    if (!spec.ok()) return spec.status();
    absl::StatusOr<db::ModelRecord> model = FindModel(tenant, spec->model_ref);
    if (!model.ok()) return model.status();
    spec->params.model_id = model->id;
    if (!spec->dataset_ref.empty()) {
      absl::StatusOr<db::DatasetRecord> dataset = FindDataset(tenant, spec->dataset_ref);
      if (!dataset.ok()) return dataset.status();
      spec->params.dataset_id = dataset->id;
    }
    absl::StatusOr<db::JobRecord> job =
        store_->CreateJob(tenant, spec->params, request->request_id());
    if (!job.ok()) return job.status();
    // Strategies are validated above, so the label has a small, fixed set of
    // values. A repeat of a request_id that returns the first job counts again.
    if (options_.metrics != nullptr) {
      options_.metrics->jobs_created->WithLabels({job->params.strategy}).Increment();
    }
    *response = ToProto(*job);
    return absl::OkStatus();
  });
}

grpc::Status PruneServiceImpl::GetJob(grpc::ServerContext* context,
                                      const v1::GetJobRequest* request, v1::Job* response) {
  return Handle("GetJob", context, [&](const std::string& tenant) -> absl::Status {
    absl::StatusOr<db::JobRecord> job = FindJob(tenant, request->name());
    if (!job.ok()) return job.status();
    *response = ToProto(*job);
    return absl::OkStatus();
  });
}

grpc::Status PruneServiceImpl::ListJobs(grpc::ServerContext* context,
                                        const v1::ListJobsRequest* request,
                                        v1::ListJobsResponse* response) {
  return Handle("ListJobs", context, [&](const std::string& tenant) -> absl::Status {
    absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    absl::StatusOr<std::optional<db::JobState>> state = JobStateFilterFromProto(request->state());
    if (!state.ok()) return state.status();
    std::string model_id;
    if (!request->model().empty()) {
      // Resolved like CreateJob's model: another tenant's is NOT_FOUND.
      absl::StatusOr<db::ModelRecord> model = FindModel(tenant, request->model());
      if (!model.ok()) return model.status();
      model_id = model->id;
    }
    absl::StatusOr<db::Page<db::JobRecord>> page =
        store_->ListJobs(tenant, *state, *page_size, request->page_token(), model_id);
    if (!page.ok()) return page.status();
    for (const db::JobRecord& job : page->items) *response->add_jobs() = ToProto(job);
    response->set_next_page_token(page->next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status PruneServiceImpl::CancelJob(grpc::ServerContext* context,
                                         const v1::CancelJobRequest* request, v1::Job* response) {
  return Handle("CancelJob", context, [&](const std::string& tenant) -> absl::Status {
    absl::StatusOr<db::JobRecord> job = FindJob(tenant, request->name());
    if (!job.ok()) return job.status();
    absl::StatusOr<db::JobRecord> cancelled = store_->CancelJob(tenant, job->id);
    if (!cancelled.ok()) {
      return AddReasonIfMissing(
          RenameNotFound(cancelled.status(), "JOB_NOT_FOUND", "job", request->name()),
          absl::StatusCode::kFailedPrecondition, "JOB_ALREADY_FINISHED");
    }
    *response = ToProto(*cancelled);
    return absl::OkStatus();
  });
}

grpc::Status PruneServiceImpl::WatchJob(grpc::ServerContext* context,
                                        const v1::WatchJobRequest* request,
                                        grpc::ServerWriter<v1::JobEvent>* writer) {
  return Handle("WatchJob", context, [&](const std::string& tenant) -> absl::Status {
    if (request->after_sequence() < 0) {
      return absl::InvalidArgumentError("AFTER_SEQUENCE_INVALID: after_sequence must be >= 0");
    }
    absl::StatusOr<db::JobRecord> job = FindJob(tenant, request->name());
    if (!job.ok()) return job.status();
    return StreamJobEvents(context, tenant, job->id, request->after_sequence(), writer);
  });
}

absl::Status PruneServiceImpl::StreamJobEvents(grpc::ServerContext* context,
                                               const std::string& tenant, const std::string& job_id,
                                               int64_t after_sequence,
                                               grpc::ServerWriter<v1::JobEvent>* writer) const {
  int64_t last_sent = after_sequence;
  // Once the job is terminal one more read picks up events written together
  // with the final state; then the stream ends.
  bool job_terminal = false;
  while (true) {
    if (context->IsCancelled()) {
      return absl::CancelledError("CANCELLED: the client cancelled the watch");
    }
    if (draining_) {
      return absl::UnavailableError(absl::StrCat(
          "SERVER_SHUTTING_DOWN: reconnect and resume with after_sequence=", last_sent));
    }
    absl::StatusOr<std::vector<db::JobEventRecord>> events =
        store_->ListJobEvents(tenant, job_id, last_sent, kWatchBatch);
    if (!events.ok()) return events.status();
    for (const db::JobEventRecord& event : *events) {
      if (!writer->Write(ToProto(event))) {
        return absl::CancelledError("CANCELLED: the client went away");
      }
      last_sent = event.sequence;
    }
    if (static_cast<int>(events->size()) == kWatchBatch) continue;
    if (job_terminal) return absl::OkStatus();
    absl::StatusOr<db::JobRecord> job = store_->GetJob(tenant, job_id);
    if (!job.ok()) return job.status();
    if (db::IsTerminal(job->state)) {
      job_terminal = true;
      continue;
    }
    for (absl::Duration waited; waited < options_.watch_poll_interval; waited += kWatchWakeup) {
      if (context->IsCancelled() || draining_) break;
      absl::SleepFor(std::min(kWatchWakeup, options_.watch_poll_interval - waited));
    }
  }
}

grpc::Status PruneServiceImpl::ListCandidates(grpc::ServerContext* context,
                                              const v1::ListCandidatesRequest* request,
                                              v1::ListCandidatesResponse* response) {
  return Handle("ListCandidates", context, [&](const std::string& tenant) -> absl::Status {
    absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    absl::StatusOr<db::JobRecord> job = FindJob(tenant, request->job());
    if (!job.ok()) return job.status();
    // Candidates are stored when the job succeeds; before that (and for jobs
    // without a search) the list is empty.
    absl::StatusOr<db::Page<db::CandidateRecord>> page = store_->ListCandidates(
        tenant, job->id, request->pareto_only(), *page_size, request->page_token());
    if (!page.ok()) return page.status();
    for (const db::CandidateRecord& candidate : page->items) {
      *response->add_candidates() = ToProto(candidate);
    }
    response->set_next_page_token(page->next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status PruneServiceImpl::DownloadArtifact(
    grpc::ServerContext* context, const v1::DownloadArtifactRequest* request,
    grpc::ServerWriter<v1::DownloadArtifactResponse>* writer) {
  return Handle("DownloadArtifact", context, [&](const std::string& tenant) -> absl::Status {
    absl::StatusOr<db::ArtifactKind> kind = ArtifactKindFromProto(request->kind());
    if (!kind.ok()) return kind.status();
    absl::StatusOr<db::JobRecord> job = FindJob(tenant, request->job());
    if (!job.ok()) return job.status();
    if (job->state != db::JobState::kSucceeded) {
      return absl::FailedPreconditionError(absl::StrCat("JOB_NOT_SUCCEEDED: job '", request->job(),
                                                        "' is ", StateName(job->state),
                                                        "; artifacts exist once it SUCCEEDED"));
    }
    absl::StatusOr<db::ArtifactRecord> artifact = store_->GetArtifact(tenant, job->id, *kind);
    if (!artifact.ok()) {
      return RenameNotFound(
          artifact.status(), "ARTIFACT_NOT_FOUND",
          absl::StrCat(v1::ArtifactKind_Name(request->kind()), " artifact of job"), request->job());
    }
    int64_t offset = 0;
    absl::Status read = blobs_->Read(artifact->sha256, [&](std::string_view data) {
      if (context->IsCancelled()) return false;
      v1::DownloadArtifactResponse chunk;
      if (offset == 0) {
        chunk.set_total_size_bytes(artifact->size_bytes);
        chunk.set_sha256(artifact->sha256);
      }
      chunk.set_offset(offset);
      chunk.set_data(data.data(), data.size());
      offset += static_cast<int64_t>(data.size());
      return writer->Write(chunk);
    });
    if (read.ok() && offset == 0) {
      // An empty artifact still announces its size and sha256.
      v1::DownloadArtifactResponse header;
      header.set_sha256(artifact->sha256);
      writer->Write(header);
    }
    if (absl::IsNotFound(read)) {
      return absl::DataLossError(absl::StrCat("ARTIFACT_BLOB_MISSING: the stored bytes of ",
                                              v1::ArtifactKind_Name(request->kind()),
                                              " are missing"));
    }
    return read;
  });
}

}  // namespace prune::server
