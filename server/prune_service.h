// prune.v1.PruneService over MetadataStore and BlobStore (sync gRPC API).
// Every handler authenticates, runs, converts absl::Status to a gRPC status
// with a reason token, and logs one line.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/db/blob_store.h"
#include "common/db/metadata_store.h"
#include "common/metrics/service_metrics.h"
#include "prune/v1/service.grpc.pb.h"
#include "server/auth.h"

namespace prune::server {

struct PruneServiceOptions {
  int64_t max_upload_bytes = int64_t{2} << 30;
  // How long a broken upload stays resumable after its last staged chunk
  // (the purge itself runs in StaleUploadPurger); reported by GetUploadStatus.
  absl::Duration upload_ttl = absl::Hours(24);
  // How often WatchJob looks for new events.
  absl::Duration watch_poll_interval = absl::Milliseconds(250);
  // Where RPC counts and latencies, upload bytes and created jobs are
  // recorded; null records nothing. Must outlive the service.
  metrics::ServerMetrics* metrics = nullptr;
};

class PruneServiceImpl final : public v1::PruneService::Service {
 public:
  // The pointers must outlive the service.
  PruneServiceImpl(db::MetadataStore* store, db::BlobStore* blobs,
                   const Authenticator* authenticator, PruneServiceOptions options);

  // Long-running streams (WatchJob) end with UNAVAILABLE so clients reconnect
  // to another replica; new calls still work until the server shuts down.
  void StartDraining() { draining_ = true; }

  grpc::Status UploadModel(grpc::ServerContext* context,
                           grpc::ServerReader<v1::UploadModelRequest>* reader,
                           v1::Model* response) override;
  grpc::Status GetModel(grpc::ServerContext* context, const v1::GetModelRequest* request,
                        v1::Model* response) override;
  grpc::Status ListModels(grpc::ServerContext* context, const v1::ListModelsRequest* request,
                          v1::ListModelsResponse* response) override;
  grpc::Status DeleteModel(grpc::ServerContext* context, const v1::DeleteModelRequest* request,
                           v1::DeleteResponse* response) override;

  grpc::Status UploadDataset(grpc::ServerContext* context,
                             grpc::ServerReader<v1::UploadDatasetRequest>* reader,
                             v1::Dataset* response) override;
  grpc::Status GetDataset(grpc::ServerContext* context, const v1::GetDatasetRequest* request,
                          v1::Dataset* response) override;
  grpc::Status GetUploadStatus(grpc::ServerContext* context,
                               const v1::GetUploadStatusRequest* request,
                               v1::UploadStatus* response) override;
  grpc::Status ListDatasets(grpc::ServerContext* context, const v1::ListDatasetsRequest* request,
                            v1::ListDatasetsResponse* response) override;
  grpc::Status DeleteDataset(grpc::ServerContext* context, const v1::DeleteDatasetRequest* request,
                             v1::DeleteResponse* response) override;

  grpc::Status CreateJob(grpc::ServerContext* context, const v1::CreateJobRequest* request,
                         v1::Job* response) override;
  grpc::Status GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                      v1::Job* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                         v1::Job* response) override;
  grpc::Status WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::JobEvent>* writer) override;
  grpc::Status ListCandidates(grpc::ServerContext* context,
                              const v1::ListCandidatesRequest* request,
                              v1::ListCandidatesResponse* response) override;
  grpc::Status DownloadArtifact(grpc::ServerContext* context,
                                const v1::DownloadArtifactRequest* request,
                                grpc::ServerWriter<v1::DownloadArtifactResponse>* writer) override;

 private:
  using Body = std::function<absl::Status(const std::string& tenant)>;
  // Authenticates, runs `body` with the caller's tenant, converts and logs.
  grpc::Status Handle(const char* method, grpc::ServerContext* context, const Body& body) const;

  // prune_upload_bytes_total{kind}, or null without metrics.
  metrics::Counter* UploadBytesCounter(const char* kind) const;
  absl::StatusOr<db::ModelRecord> FindModel(const std::string& tenant,
                                            const std::string& reference) const;
  absl::StatusOr<db::DatasetRecord> FindDataset(const std::string& tenant,
                                                const std::string& reference) const;
  absl::StatusOr<db::JobRecord> FindJob(const std::string& tenant,
                                        const std::string& reference) const;
  absl::Status StreamJobEvents(grpc::ServerContext* context, const std::string& tenant,
                               const std::string& job_id, int64_t after_sequence,
                               grpc::ServerWriter<v1::JobEvent>* writer) const;

  db::MetadataStore* store_;
  db::BlobStore* blobs_;
  const Authenticator* authenticator_;
  PruneServiceOptions options_;
  std::atomic<bool> draining_{false};
};

// page_size of a List request: 0 -> 50, capped at 1000, negative is
// INVALID_ARGUMENT ("PAGE_SIZE_INVALID").
absl::StatusOr<int> EffectivePageSize(int32_t requested);

}  // namespace prune::server
