#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "prune/v1/service.grpc.pb.h"

namespace prune::client {

// A scriptable PruneService for client tests. Configure the public fields
// before the calls; read the recorded ones after (under `mu`).
class FakePruneService final : public prune::v1::PruneService::Service {
 public:
  std::mutex mu;

  // Recorded: the messages of the last upload call of each kind.
  std::vector<prune::v1::UploadModelRequest> model_upload_messages;
  std::vector<prune::v1::UploadDatasetRequest> dataset_upload_messages;
  // First chunk offset of every upload call (-1: no chunk), and how often
  // GetUploadStatus was asked.
  std::vector<int64_t> upload_first_offsets;
  int upload_status_calls = 0;
  std::vector<prune::v1::CreateJobRequest> create_requests;
  std::vector<int64_t> watch_after_sequences;
  std::vector<std::string> authorization_headers;

  // Scripted resumable uploads: the next `upload_breaks` upload calls end
  // with UNAVAILABLE once `break_after_bytes` chunk bytes arrived; the whole
  // MiB of the file received so far stay in `staged` (also settable), which
  // GetUploadStatus reports and a stream starting at its end continues.
  int upload_breaks = 0;
  int64_t break_after_bytes = 0;
  std::string staged;

  // Scripted. CreateJob fails this many times with UNAVAILABLE first.
  int create_unavailable_failures = 0;
  // Returned by GetJob and (name only, QUEUED) by CreateJob.
  prune::v1::Job job;
  // WatchJob call i sends the events of watch_scripts[i] with sequence >
  // after_sequence; every call but the last then breaks with UNAVAILABLE.
  std::vector<std::vector<prune::v1::JobEvent>> watch_scripts;
  // DownloadArtifact serves these bytes in 1 MiB chunks and announces
  // `announced_sha256` (empty: the true hash).
  std::string artifact;
  std::string announced_sha256;
  // ListCandidates of `job` serves these, `candidates_page_size` per page
  // (filtered by pareto_only); requests are recorded.
  std::vector<prune::v1::Candidate> candidates;
  int candidates_page_size = 2;
  std::vector<prune::v1::ListCandidatesRequest> candidates_requests;

  grpc::Status UploadModel(grpc::ServerContext* context,
                           grpc::ServerReader<prune::v1::UploadModelRequest>* reader,
                           prune::v1::Model* response) override;
  grpc::Status UploadDataset(grpc::ServerContext* context,
                             grpc::ServerReader<prune::v1::UploadDatasetRequest>* reader,
                             prune::v1::Dataset* response) override;
  grpc::Status GetUploadStatus(grpc::ServerContext* context,
                               const prune::v1::GetUploadStatusRequest* request,
                               prune::v1::UploadStatus* response) override;
  grpc::Status CreateJob(grpc::ServerContext* context, const prune::v1::CreateJobRequest* request,
                         prune::v1::Job* response) override;
  grpc::Status GetJob(grpc::ServerContext* context, const prune::v1::GetJobRequest* request,
                      prune::v1::Job* response) override;
  grpc::Status WatchJob(grpc::ServerContext* context, const prune::v1::WatchJobRequest* request,
                        grpc::ServerWriter<prune::v1::JobEvent>* writer) override;
  grpc::Status ListCandidates(grpc::ServerContext* context,
                              const prune::v1::ListCandidatesRequest* request,
                              prune::v1::ListCandidatesResponse* response) override;
  grpc::Status DownloadArtifact(
      grpc::ServerContext* context, const prune::v1::DownloadArtifactRequest* request,
      grpc::ServerWriter<prune::v1::DownloadArtifactResponse>* writer) override;

 private:
  void RecordAuthorization(grpc::ServerContext* context);
  // Reads one upload call like the real server (offsets, resume, size,
  // sha256) under the script above.
  template <typename Request>
  grpc::Status ReceiveUpload(grpc::ServerReader<Request>* reader, std::vector<Request>* messages);
  int watch_calls_ = 0;
};

// Runs a service on 127.0.0.1 with a kernel-chosen port for the test's life.
class FakeServer {
 public:
  explicit FakeServer(grpc::Service* service);
  ~FakeServer();
  std::string address() const { return address_; }

 private:
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

prune::v1::JobEvent MakeEvent(int64_t sequence, prune::v1::Job::State state, double progress,
                              const std::string& message);

}  // namespace prune::client
