#include "fake_prune_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "sha256_file.h"

namespace prune::client {
namespace {

std::string Sha256Hex(const std::string& bytes) {
  Sha256 hasher;
  hasher.Update(bytes.data(), bytes.size());
  return hasher.FinishHex();
}

}  // namespace

// Verifies order, offsets, size and hash like the real server, so tests fail
// on any protocol slip.
template <typename Request>
grpc::Status FakePruneService::ReceiveUpload(grpc::ServerReader<Request>* reader,
                                             std::vector<Request>* messages) {
  messages->clear();
  std::string file;  // the bytes of the file this call (with a resumed prefix)
  int64_t first_offset = -1;
  Request request;
  while (reader->Read(&request)) {
    messages->push_back(request);
    if (messages->size() == 1) {
      if (!request.has_metadata()) {
        return {grpc::StatusCode::INVALID_ARGUMENT, "first message must be metadata"};
      }
      continue;
    }
    if (!request.has_chunk()) return {grpc::StatusCode::INVALID_ARGUMENT, "expected chunk"};
    const auto& chunk = request.chunk();
    if (first_offset < 0) {
      first_offset = chunk.offset();
      if (first_offset == static_cast<int64_t>(staged.size())) file = staged;
    }
    if (chunk.offset() != static_cast<int64_t>(file.size())) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "UPLOAD_OFFSET_MISMATCH: bad offset"};
    }
    if (chunk.data().size() > (1u << 20)) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "chunk too big"};
    }
    file += chunk.data();
    if (upload_breaks > 0 &&
        static_cast<int64_t>(file.size()) - std::max<int64_t>(first_offset, 0) >=
            break_after_bytes) {
      --upload_breaks;
      upload_first_offsets.push_back(first_offset);
      staged = file.substr(0, file.size() - file.size() % (1 << 20));
      return {grpc::StatusCode::UNAVAILABLE, "connection reset (scripted)"};
    }
  }
  upload_first_offsets.push_back(first_offset);
  if (messages->empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "no metadata"};
  const auto& metadata = (*messages)[0].metadata();
  // Resuming when everything was staged: no chunk is left to send.
  if (first_offset < 0 && static_cast<int64_t>(staged.size()) == metadata.size_bytes()) {
    file = staged;
  }
  if (static_cast<int64_t>(file.size()) != metadata.size_bytes() ||
      Sha256Hex(file) != metadata.sha256()) {
    return {grpc::StatusCode::DATA_LOSS, "size or sha256 mismatch"};
  }
  staged.clear();
  return grpc::Status::OK;
}

grpc::Status FakePruneService::GetUploadStatus(grpc::ServerContext* context,
                                               const prune::v1::GetUploadStatusRequest* request,
                                               prune::v1::UploadStatus* response) {
  std::lock_guard<std::mutex> lock(mu);
  RecordAuthorization(context);
  ++upload_status_calls;
  if (staged.empty()) return {grpc::StatusCode::NOT_FOUND, "UPLOAD_NOT_FOUND: nothing staged"};
  response->set_committed_bytes(static_cast<int64_t>(staged.size()));
  response->set_size_bytes(request->size_bytes());
  return grpc::Status::OK;
}

void FakePruneService::RecordAuthorization(grpc::ServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  authorization_headers.push_back(
      it == metadata.end() ? "" : std::string(it->second.data(), it->second.size()));
}

grpc::Status FakePruneService::UploadModel(
    grpc::ServerContext* context, grpc::ServerReader<prune::v1::UploadModelRequest>* reader,
    prune::v1::Model* response) {
  std::lock_guard<std::mutex> lock(mu);
  RecordAuthorization(context);
  grpc::Status status = ReceiveUpload(reader, &model_upload_messages);
  if (!status.ok()) return status;
  const auto& metadata = model_upload_messages[0].metadata();
  response->set_name("tenants/t/models/m1");
  response->set_display_name(metadata.display_name());
  *response->mutable_input_shape() = metadata.input_shape();
  response->set_size_bytes(metadata.size_bytes());
  response->set_sha256(metadata.sha256());
  return grpc::Status::OK;
}

grpc::Status FakePruneService::UploadDataset(
    grpc::ServerContext* context, grpc::ServerReader<prune::v1::UploadDatasetRequest>* reader,
    prune::v1::Dataset* response) {
  std::lock_guard<std::mutex> lock(mu);
  RecordAuthorization(context);
  grpc::Status status = ReceiveUpload(reader, &dataset_upload_messages);
  if (!status.ok()) return status;
  const auto& metadata = dataset_upload_messages[0].metadata();
  response->set_name("tenants/t/datasets/d1");
  response->set_display_name(metadata.display_name());
  response->set_size_bytes(metadata.size_bytes());
  response->set_sha256(metadata.sha256());
  return grpc::Status::OK;
}

grpc::Status FakePruneService::CreateJob(grpc::ServerContext* context,
                                         const prune::v1::CreateJobRequest* request,
                                         prune::v1::Job* response) {
  std::lock_guard<std::mutex> lock(mu);
  RecordAuthorization(context);
  create_requests.push_back(*request);
  if (create_unavailable_failures > 0) {
    --create_unavailable_failures;
    return {grpc::StatusCode::UNAVAILABLE, "try again"};
  }
  *response = request->job();
  response->set_name(job.name());
  response->set_state(prune::v1::Job::QUEUED);
  return grpc::Status::OK;
}

grpc::Status FakePruneService::ListCandidates(grpc::ServerContext* context,
                                              const prune::v1::ListCandidatesRequest* request,
                                              prune::v1::ListCandidatesResponse* response) {
  std::lock_guard<std::mutex> lock(mu);
  RecordAuthorization(context);
  candidates_requests.push_back(*request);
  if (request->job() != job.name()) return {grpc::StatusCode::NOT_FOUND, "no such job"};
  std::vector<prune::v1::Candidate> selected;
  for (const auto& c : candidates) {
    if (!request->pareto_only() || c.pareto()) selected.push_back(c);
  }
  const size_t start = request->page_token().empty() ? 0 : std::stoul(request->page_token());
  const size_t end = std::min(selected.size(), start + candidates_page_size);
  for (size_t i = start; i < end; ++i) *response->add_candidates() = selected[i];
  if (end < selected.size()) response->set_next_page_token(std::to_string(end));
  return grpc::Status::OK;
}

grpc::Status FakePruneService::GetJob(grpc::ServerContext* context,
                                      const prune::v1::GetJobRequest* request,
                                      prune::v1::Job* response) {
  std::lock_guard<std::mutex> lock(mu);
  RecordAuthorization(context);
  if (request->name() != job.name()) return {grpc::StatusCode::NOT_FOUND, "no such job"};
  *response = job;
  return grpc::Status::OK;
}

grpc::Status FakePruneService::WatchJob(grpc::ServerContext* context,
                                        const prune::v1::WatchJobRequest* request,
                                        grpc::ServerWriter<prune::v1::JobEvent>* writer) {
  std::lock_guard<std::mutex> lock(mu);
  RecordAuthorization(context);
  watch_after_sequences.push_back(request->after_sequence());
  if (request->name() != job.name()) return {grpc::StatusCode::NOT_FOUND, "no such job"};
  if (watch_calls_ >= static_cast<int>(watch_scripts.size())) {
    return {grpc::StatusCode::UNAVAILABLE, "no script left"};
  }
  const int call = watch_calls_++;
  for (const auto& event : watch_scripts[call]) {
    if (event.sequence() > request->after_sequence()) writer->Write(event);
  }
  if (call + 1 < static_cast<int>(watch_scripts.size())) {
    return {grpc::StatusCode::UNAVAILABLE, "stream broken by the test"};
  }
  return grpc::Status::OK;
}

grpc::Status FakePruneService::DownloadArtifact(
    grpc::ServerContext* context, const prune::v1::DownloadArtifactRequest* request,
    grpc::ServerWriter<prune::v1::DownloadArtifactResponse>* writer) {
  std::lock_guard<std::mutex> lock(mu);
  RecordAuthorization(context);
  if (request->job() != job.name()) return {grpc::StatusCode::NOT_FOUND, "no such job"};
  Sha256 hasher;
  hasher.Update(artifact.data(), artifact.size());
  const std::string true_sha = hasher.FinishHex();
  constexpr size_t kChunk = 1 << 20;
  size_t offset = 0;
  do {
    prune::v1::DownloadArtifactResponse message;
    if (offset == 0) {
      message.set_total_size_bytes(static_cast<int64_t>(artifact.size()));
      message.set_sha256(announced_sha256.empty() ? true_sha : announced_sha256);
    }
    const size_t size = std::min(kChunk, artifact.size() - offset);
    message.set_offset(static_cast<int64_t>(offset));
    message.set_data(artifact.substr(offset, size));
    writer->Write(message);
    offset += size;
  } while (offset < artifact.size());
  return grpc::Status::OK;
}

FakeServer::FakeServer(grpc::Service* service) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  address_ = absl::StrCat("127.0.0.1:", port);
}

FakeServer::~FakeServer() { server_->Shutdown(); }

prune::v1::JobEvent MakeEvent(int64_t sequence, prune::v1::Job::State state, double progress,
                              const std::string& message) {
  prune::v1::JobEvent event;
  event.set_sequence(sequence);
  event.mutable_time()->set_seconds(1700000000 + sequence);
  event.set_state(state);
  event.set_progress(progress);
  event.set_stage("search");
  event.set_message(message);
  return event;
}

}  // namespace prune::client
