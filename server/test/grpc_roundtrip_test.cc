// The real gRPC server in-process on 127.0.0.1 (port 0), a real channel over
// loopback, a real PostgreSQL (fresh database for this binary). Workers are
// played by the test through JobQueue.
#include <openssl/evp.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>
#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/db/blob_store.h"
#include "common/db/connection_pool.h"
#include "common/db/job_queue.h"
#include "common/db/metadata_store.h"
#include "common/db/migrations.h"
#include "common/db/token_store.h"
#include "prune/v1/service.grpc.pb.h"
#include "server/api_server.h"
#include "server/auth.h"
#include "server/database_authenticator.h"
#include "server/status_conversion.h"
#include "server/test/test_database.h"
#include "server/test/zip_builder.h"

namespace prune::server {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), size));
}

// The database and stores shared by every test of this binary.
struct Backend {
  std::unique_ptr<testing::TestDatabase> database;
  std::unique_ptr<db::ConnectionPool> pool;
  std::unique_ptr<db::MetadataStore> store;
  std::unique_ptr<db::BlobStore> blobs;
  std::unique_ptr<db::JobQueue> queue;
};

Backend* backend = nullptr;

class BackendEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::TestDatabase>> database =
        testing::TestDatabase::Create();
    ASSERT_TRUE(database.ok()) << database.status();
    backend = new Backend;
    backend->database = std::move(*database);
    absl::StatusOr<std::unique_ptr<db::ConnectionPool>> pool =
        db::ConnectionPool::Create(backend->database->url(), 16);
    ASSERT_TRUE(pool.ok()) << pool.status();
    backend->pool = std::move(*pool);
    ASSERT_TRUE(db::ApplyMigrations(backend->pool.get()).ok());
    backend->store = std::make_unique<db::MetadataStore>(backend->pool.get());
    backend->blobs = std::make_unique<db::BlobStore>(backend->pool.get());
    backend->queue = std::make_unique<db::JobQueue>(backend->pool.get());
    ASSERT_TRUE(backend->store->EnsureTenant(kDefaultTenant).ok());
  }
  void TearDown() override {
    if (backend == nullptr) return;
    backend->pool.reset();  // close connections before the database is dropped
    delete backend;
    backend = nullptr;
  }
};

const ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new BackendEnvironment);

std::vector<int64_t> Shape() { return {1, 1, 28, 28}; }

struct UploadOptions {
  size_t chunk_bytes = 256 << 10;
  std::string sha256;            // empty: the right one
  int64_t size_bytes = -1;       // -1: the right one
  size_t send_bytes = SIZE_MAX;  // stop sending after this many bytes
  bool send_metadata = true;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(""); }

  void TearDown() override {
    // Whatever the test threw at it, the server still answers.
    if (server_ != nullptr && !stopped_) {
      grpc::ClientContext context;
      Authorize(&context);
      v1::ListModelsResponse response;
      EXPECT_TRUE(stub_->ListModels(&context, v1::ListModelsRequest(), &response).ok());
      EXPECT_EQ(HealthStatus(""), 1);
    }
    server_.reset();
  }

  void StartServer(const std::string& token, PruneServiceOptions service = {}) {
    token_ = token;
    StartServerWith(MakeAuthenticator(token), service);
  }

  // Serves with `authenticator`; Authorize() sends token_.
  void StartServerWith(std::unique_ptr<Authenticator> authenticator,
                       PruneServiceOptions service = {}) {
    authenticator_ = std::move(authenticator);
    ApiServerOptions options;
    options.listen_address = "127.0.0.1:0";
    service.watch_poll_interval = absl::Milliseconds(100);
    options.service = service;
    absl::StatusOr<std::unique_ptr<ApiServer>> server =
        ApiServer::Start(options, backend->store.get(), backend->blobs.get(), authenticator_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::PruneService::NewStub(channel_);
  }

  void Authorize(grpc::ClientContext* context) const {
    if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
  }

  // grpc.health.v1.Health/Check through a generic call: 1 = SERVING,
  // 2 = NOT_SERVING, -1 = the call failed.
  int HealthStatus(const std::string& service) {
    std::string request;
    if (!service.empty()) {
      request.push_back(0x0a);
      request.push_back(static_cast<char>(service.size()));
      request += service;
    }
    grpc::Slice slice(request);
    grpc::ByteBuffer request_buffer(&slice, 1);
    grpc::ByteBuffer response_buffer;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    const grpc::Status status =
        grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
            channel_.get(),
            grpc::internal::RpcMethod("/grpc.health.v1.Health/Check",
                                      grpc::internal::RpcMethod::NORMAL_RPC),
            &context, request_buffer, &response_buffer);
    if (!status.ok()) return -1;
    std::vector<grpc::Slice> slices;
    response_buffer.Dump(&slices);
    std::string response;
    for (const grpc::Slice& s : slices) {
      response.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    return response.size() == 2 && response[0] == 0x08 ? response[1] : 0;
  }

  grpc::Status UploadModel(const std::string& name, const std::string& bytes,
                           const UploadOptions& upload = {}, v1::Model* model = nullptr) {
    grpc::ClientContext context;
    Authorize(&context);
    v1::Model response;
    std::unique_ptr<grpc::ClientWriter<v1::UploadModelRequest>> writer =
        stub_->UploadModel(&context, &response);
    if (upload.send_metadata) {
      v1::UploadModelRequest request;
      v1::UploadMetadata* metadata = request.mutable_metadata();
      metadata->set_display_name(name);
      for (int64_t dim : Shape()) metadata->add_input_shape(dim);
      metadata->set_size_bytes(upload.size_bytes >= 0 ? upload.size_bytes
                                                      : static_cast<int64_t>(bytes.size()));
      metadata->set_sha256(upload.sha256.empty() ? Sha256Hex(bytes) : upload.sha256);
      writer->Write(request);
    }
    const size_t end = std::min(bytes.size(), upload.send_bytes);
    for (size_t at = 0; at < end; at += upload.chunk_bytes) {
      v1::UploadModelRequest request;
      request.mutable_chunk()->set_offset(static_cast<int64_t>(at));
      request.mutable_chunk()->set_data(bytes.substr(at, std::min(upload.chunk_bytes, end - at)));
      if (!writer->Write(request)) break;  // the server already answered
    }
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    if (model != nullptr) *model = response;
    return status;
  }

  v1::Model MustUploadModel(const std::string& name, size_t payload = 4096) {
    v1::Model model;
    const grpc::Status status =
        UploadModel(name, testing::FakeTorchScriptArchive(payload), {}, &model);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return model;
  }

  grpc::Status CreateJob(const v1::Job& job, const std::string& request_id, v1::Job* out) {
    grpc::ClientContext context;
    Authorize(&context);
    v1::CreateJobRequest request;
    *request.mutable_job() = job;
    request.set_request_id(request_id);
    return stub_->CreateJob(&context, request, out);
  }

  v1::Job JobFor(const std::string& model, double ratio = 0.5) {
    v1::Job job;
    job.set_model(model);
    job.mutable_target()->set_ratio(ratio);
    return job;
  }

  std::string JobId(const v1::Job& job) { return job.name().substr(job.name().rfind('/') + 1); }

  // Plays a worker: claims `job` (it must be the next runnable one), reports
  // progress and completes it with a PRUNED_MODEL artifact.
  void RunJobToSuccess(const v1::Job& job, const std::string& artifact,
                       const std::vector<db::CandidateRecord>& candidates = {}) {
    const absl::Time now = absl::Now();
    absl::StatusOr<std::optional<db::ClaimedJob>> claimed =
        backend->queue->Claim("test-worker", absl::Seconds(60), now);
    ASSERT_TRUE(claimed.ok()) << claimed.status();
    ASSERT_TRUE(claimed->has_value());
    ASSERT_EQ((*claimed)->job.id, JobId(job));
    const db::LeaseToken lease{(*claimed)->job.id, "test-worker", (*claimed)->job.attempt};
    ASSERT_TRUE(backend->queue->ReportProgress(lease, 0.5, "search", "halfway", absl::Now()).ok());
    absl::StatusOr<std::unique_ptr<db::BlobWriter>> writer =
        backend->blobs->Begin(artifact.size(), Sha256Hex(artifact));
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (size_t at = 0; at < artifact.size(); at += 300000) {
      ASSERT_TRUE((*writer)->Append(std::string_view(artifact).substr(at, 300000)).ok());
    }
    ASSERT_TRUE((*writer)->Commit().ok());
    db::ArtifactRecord record;
    record.kind = db::ArtifactKind::kPrunedModel;
    record.sha256 = Sha256Hex(artifact);
    record.size_bytes = static_cast<int64_t>(artifact.size());
    const absl::Status completed = backend->queue->Complete(lease, R"({"flops_ratio": 0.5})",
                                                            {record}, absl::Now(), candidates);
    ASSERT_TRUE(completed.ok()) << completed;
  }

  grpc::Status ListCandidates(const std::string& job, int32_t page_size,
                              const std::string& page_token, bool pareto_only,
                              v1::ListCandidatesResponse* response) {
    grpc::ClientContext context;
    Authorize(&context);
    v1::ListCandidatesRequest request;
    request.set_job(job);
    request.set_page_size(page_size);
    request.set_page_token(page_token);
    request.set_pareto_only(pareto_only);
    return stub_->ListCandidates(&context, request, response);
  }

  std::vector<v1::JobEvent> Watch(const std::string& job, int64_t after, grpc::Status* status) {
    grpc::ClientContext context;
    Authorize(&context);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::WatchJobRequest request;
    request.set_name(job);
    request.set_after_sequence(after);
    std::unique_ptr<grpc::ClientReader<v1::JobEvent>> reader = stub_->WatchJob(&context, request);
    std::vector<v1::JobEvent> events;
    v1::JobEvent event;
    while (reader->Read(&event)) events.push_back(event);
    *status = reader->Finish();
    return events;
  }

  // An upload stream left open, to break it or finish it later.
  template <typename Request, typename Response>
  struct OpenUpload {
    grpc::ClientContext context;
    Response response;
    std::unique_ptr<grpc::ClientWriter<Request>> writer;
  };
  using OpenModelUpload = OpenUpload<v1::UploadModelRequest, v1::Model>;
  using OpenDatasetUpload = OpenUpload<v1::UploadDatasetRequest, v1::Dataset>;

  // Sends metadata for `bytes` and its chunks of 1 MiB from `from` to `to`.
  template <typename Request>
  static bool SendUpload(grpc::ClientWriter<Request>* writer, const std::string& name,
                         const std::string& bytes, size_t from, size_t to, bool model) {
    Request first;
    v1::UploadMetadata* metadata = first.mutable_metadata();
    metadata->set_display_name(name);
    if (model) {
      for (int64_t dim : Shape()) metadata->add_input_shape(dim);
    }
    metadata->set_size_bytes(static_cast<int64_t>(bytes.size()));
    metadata->set_sha256(Sha256Hex(bytes));
    if (!writer->Write(first)) return false;
    for (size_t at = from; at < to; at += 1 << 20) {
      Request request;
      request.mutable_chunk()->set_offset(static_cast<int64_t>(at));
      request.mutable_chunk()->set_data(bytes.substr(at, std::min<size_t>(1 << 20, to - at)));
      if (!writer->Write(request)) return false;
    }
    return true;
  }

  std::unique_ptr<OpenModelUpload> StartModelUpload(const std::string& name,
                                                    const std::string& bytes, size_t from,
                                                    size_t to) {
    auto open = std::make_unique<OpenModelUpload>();
    Authorize(&open->context);
    open->writer = stub_->UploadModel(&open->context, &open->response);
    SendUpload(open->writer.get(), name, bytes, from, to, /*model=*/true);
    return open;
  }

  std::unique_ptr<OpenDatasetUpload> StartDatasetUpload(const std::string& name,
                                                        const std::string& bytes, size_t from,
                                                        size_t to) {
    auto open = std::make_unique<OpenDatasetUpload>();
    Authorize(&open->context);
    open->writer = stub_->UploadDataset(&open->context, &open->response);
    SendUpload(open->writer.get(), name, bytes, from, to, /*model=*/false);
    return open;
  }

  template <typename Open>
  static grpc::Status FinishUpload(Open* open) {
    open->writer->WritesDone();
    return open->writer->Finish();
  }

  grpc::Status UploadStatusOf(v1::UploadKind kind, const std::string& bytes,
                              v1::UploadStatus* status) {
    grpc::ClientContext context;
    Authorize(&context);
    v1::GetUploadStatusRequest request;
    request.set_kind(kind);
    request.set_sha256(Sha256Hex(bytes));
    request.set_size_bytes(static_cast<int64_t>(bytes.size()));
    return stub_->GetUploadStatus(&context, request, status);
  }

  // Polls GetUploadStatus until `committed` bytes are staged (chunks reach
  // the server asynchronously) or 20 s pass; returns the last value seen.
  int64_t WaitForCommitted(v1::UploadKind kind, const std::string& bytes, int64_t committed) {
    int64_t seen = -1;
    for (int i = 0; i < 200 && seen != committed; ++i) {
      v1::UploadStatus status;
      if (UploadStatusOf(kind, bytes, &status).ok()) seen = status.committed_bytes();
      if (seen != committed) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return seen;
  }

  std::string token_;
  std::unique_ptr<Authenticator> authenticator_;
  std::unique_ptr<ApiServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PruneService::Stub> stub_;
  bool stopped_ = false;
};

void ExpectError(const grpc::Status& status, grpc::StatusCode code, const std::string& reason) {
  EXPECT_EQ(status.error_code(), code) << status.error_message();
  EXPECT_THAT(status.error_message(), StartsWith(reason + ": "));
}

TEST_F(ServerTest, HealthIsServing) {
  EXPECT_EQ(HealthStatus(""), 1);
  EXPECT_EQ(HealthStatus("prune.v1.PruneService"), 1);
}

TEST_F(ServerTest, UploadModelInChunksThenGetItByEveryKindOfName) {
  const std::string archive = testing::FakeTorchScriptArchive(3 << 20);
  v1::Model model;
  UploadOptions upload;
  upload.chunk_bytes = 1 << 20;
  ASSERT_TRUE(UploadModel("lenet", archive, upload, &model).ok());
  EXPECT_THAT(model.name(), StartsWith("tenants/default/models/"));
  EXPECT_EQ(model.display_name(), "lenet");
  EXPECT_EQ(model.size_bytes(), static_cast<int64_t>(archive.size()));
  EXPECT_EQ(model.sha256(), Sha256Hex(archive));
  EXPECT_THAT(model.input_shape(), ::testing::ElementsAreArray(Shape()));
  EXPECT_GT(model.create_time().seconds(), 0);

  const std::string id = model.name().substr(model.name().rfind('/') + 1);
  for (const std::string& reference : {model.name(), id, std::string("lenet")}) {
    grpc::ClientContext context;
    v1::GetModelRequest request;
    request.set_name(reference);
    v1::Model got;
    ASSERT_TRUE(stub_->GetModel(&context, request, &got).ok()) << reference;
    EXPECT_EQ(got.name(), model.name());
  }
  grpc::ClientContext context;
  v1::GetModelRequest request;
  request.set_name("tenants/someone-else/models/" + id);
  v1::Model got;
  ExpectError(stub_->GetModel(&context, request, &got), grpc::StatusCode::NOT_FOUND,
              "MODEL_NOT_FOUND");
}

TEST_F(ServerTest, ListModelsPaginates) {
  std::set<std::string> uploaded;
  for (int i = 0; i < 5; ++i) uploaded.insert(MustUploadModel(absl::StrCat("paged-", i)).name());
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    grpc::ClientContext context;
    v1::ListModelsRequest request;
    request.set_page_size(2);
    request.set_page_token(token);
    v1::ListModelsResponse response;
    ASSERT_TRUE(stub_->ListModels(&context, request, &response).ok());
    EXPECT_LE(response.models_size(), 2);
    for (const v1::Model& m : response.models()) EXPECT_TRUE(seen.insert(m.name()).second);
    token = response.next_page_token();
    ASSERT_LT(++pages, 100);
  } while (!token.empty());
  EXPECT_GE(pages, 3);
  for (const std::string& name : uploaded) EXPECT_TRUE(seen.count(name)) << name;

  grpc::ClientContext context;
  v1::ListModelsRequest negative;
  negative.set_page_size(-1);
  v1::ListModelsResponse response;
  ExpectError(stub_->ListModels(&context, negative, &response), grpc::StatusCode::INVALID_ARGUMENT,
              "PAGE_SIZE_INVALID");
}

TEST_F(ServerTest, DuplicateDisplayNameIsAlreadyExists) {
  MustUploadModel("twice");
  const grpc::Status status = UploadModel("twice", testing::FakeTorchScriptArchive(100));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS) << status.error_message();
}

TEST_F(ServerTest, NonZipUploadIsNotTorchScript) {
  const std::string pickle(300000, '\x80');
  ExpectError(UploadModel("pickle", pickle), grpc::StatusCode::INVALID_ARGUMENT,
              "MODEL_NOT_TORCHSCRIPT");
  ExpectError(UploadModel("zip-no-code", testing::BuildZip({{"a/data.pkl", "x"}})),
              grpc::StatusCode::INVALID_ARGUMENT, "MODEL_NOT_TORCHSCRIPT");
}

TEST_F(ServerTest, Sha256MismatchIsRejected) {
  UploadOptions upload;
  upload.sha256 = std::string(64, 'a');
  ExpectError(UploadModel("bad-sha", testing::FakeTorchScriptArchive(600000), upload),
              grpc::StatusCode::INVALID_ARGUMENT, "SHA256_MISMATCH");
  // Nothing was created under that name.
  MustUploadModel("bad-sha");
}

TEST_F(ServerTest, TruncatedUploadIsSizeMismatch) {
  const std::string archive = testing::FakeTorchScriptArchive(1 << 20);
  UploadOptions upload;
  upload.send_bytes = archive.size() / 2;
  ExpectError(UploadModel("truncated", archive, upload), grpc::StatusCode::INVALID_ARGUMENT,
              "SIZE_MISMATCH");
}

TEST_F(ServerTest, UploadWithoutMetadataIsRejected) {
  UploadOptions upload;
  upload.send_metadata = false;
  ExpectError(UploadModel("x", testing::FakeTorchScriptArchive(100), upload),
              grpc::StatusCode::INVALID_ARGUMENT, "UPLOAD_METADATA_MISSING");
}

TEST_F(ServerTest, UploadLargerThanTheLimitIsRejectedUpFront) {
  server_.reset();
  PruneServiceOptions service;
  service.max_upload_bytes = 1000;
  StartServer("", service);
  ExpectError(UploadModel("big", testing::FakeTorchScriptArchive(5000)),
              grpc::StatusCode::INVALID_ARGUMENT, "UPLOAD_TOO_LARGE");
}

TEST_F(ServerTest, CreateJobValidatesAndResolvesTheModel) {
  v1::Job job;
  ExpectError(CreateJob(JobFor("no-such-model"), "", &job), grpc::StatusCode::NOT_FOUND,
              "MODEL_NOT_FOUND");
  MustUploadModel("for-jobs");
  ExpectError(CreateJob(JobFor("for-jobs", 1.0), "", &job), grpc::StatusCode::INVALID_ARGUMENT,
              "TARGET_OUT_OF_RANGE");
  ExpectError(CreateJob(JobFor("for-jobs", 0.0), "", &job), grpc::StatusCode::INVALID_ARGUMENT,
              "TARGET_OUT_OF_RANGE");
  v1::Job bad_importance = JobFor("for-jobs");
  bad_importance.set_importance("magic");
  ExpectError(CreateJob(bad_importance, "", &job), grpc::StatusCode::INVALID_ARGUMENT,
              "IMPORTANCE_INVALID");
  v1::Job with_dataset = JobFor("for-jobs");
  with_dataset.set_dataset("no-such-dataset");
  ExpectError(CreateJob(with_dataset, "", &job), grpc::StatusCode::NOT_FOUND, "DATASET_NOT_FOUND");

  ASSERT_TRUE(CreateJob(JobFor("for-jobs", 0.3), "", &job).ok());
  EXPECT_THAT(job.name(), StartsWith("tenants/default/jobs/"));
  EXPECT_THAT(job.model(), StartsWith("tenants/default/models/"));
  EXPECT_EQ(job.state(), v1::Job::QUEUED);
  EXPECT_EQ(job.strategy(), v1::UNIFORM);
  EXPECT_EQ(job.target().kind(), v1::Target::FLOPS);
  EXPECT_DOUBLE_EQ(job.target().ratio(), 0.3);
  EXPECT_EQ(job.priority(), 100);

  grpc::ClientContext context;
  v1::GetJobRequest get;
  get.set_name(job.name());
  v1::Job got;
  ASSERT_TRUE(stub_->GetJob(&context, get, &got).ok());
  EXPECT_EQ(got.name(), job.name());
  grpc::ClientContext context2;
  get.set_name("not-a-uuid");
  ExpectError(stub_->GetJob(&context2, get, &got), grpc::StatusCode::NOT_FOUND, "JOB_NOT_FOUND");
}

TEST_F(ServerTest, RequestIdMakesCreateJobIdempotent) {
  MustUploadModel("idempotent");
  v1::Job first, second, other;
  ASSERT_TRUE(CreateJob(JobFor("idempotent"), "req-1", &first).ok());
  ASSERT_TRUE(CreateJob(JobFor("idempotent"), "req-1", &second).ok());
  EXPECT_EQ(first.name(), second.name());
  const grpc::Status reused = CreateJob(JobFor("idempotent", 0.25), "req-1", &other);
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << reused.error_message();
  EXPECT_THAT(reused.error_message(), HasSubstr("REQUEST_ID"));
}

TEST_F(ServerTest, ListJobsFiltersByModel) {
  MustUploadModel("filter-a");
  MustUploadModel("filter-b");
  v1::Job a, b;
  ASSERT_TRUE(CreateJob(JobFor("filter-a"), "", &a).ok());
  ASSERT_TRUE(CreateJob(JobFor("filter-b"), "", &b).ok());
  grpc::ClientContext context;
  v1::ListJobsRequest request;
  request.set_model("filter-b");  // a display name, like CreateJob accepts
  v1::ListJobsResponse listed;
  ASSERT_TRUE(stub_->ListJobs(&context, request, &listed).ok());
  ASSERT_EQ(listed.jobs_size(), 1);
  EXPECT_EQ(listed.jobs(0).name(), b.name());
  grpc::ClientContext missing;
  request.set_model("no-such-model");
  ExpectError(stub_->ListJobs(&missing, request, &listed), grpc::StatusCode::NOT_FOUND,
              "MODEL_NOT_FOUND");
}

TEST_F(ServerTest, CancelQueuedJobThenCancelAgain) {
  MustUploadModel("to-cancel");
  v1::Job job;
  ASSERT_TRUE(CreateJob(JobFor("to-cancel"), "", &job).ok());
  v1::CancelJobRequest request;
  request.set_name(job.name());
  v1::Job cancelled;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->CancelJob(&context, request, &cancelled).ok());
  EXPECT_EQ(cancelled.state(), v1::Job::CANCELLED);
  grpc::ClientContext again;
  const grpc::Status status = stub_->CancelJob(&again, request, &cancelled);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_TRUE(HasReason(status.error_message()));

  grpc::ClientContext list_context;
  v1::ListJobsRequest list;
  list.set_state(v1::Job::CANCELLED);
  v1::ListJobsResponse listed;
  ASSERT_TRUE(stub_->ListJobs(&list_context, list, &listed).ok());
  bool found = false;
  for (const v1::Job& j : listed.jobs()) {
    EXPECT_EQ(j.state(), v1::Job::CANCELLED);
    found = found || j.name() == job.name();
  }
  EXPECT_TRUE(found);

  // A cancelled job's watch replays its events and ends.
  grpc::Status watch_status;
  std::vector<v1::JobEvent> events = Watch(job.name(), 0, &watch_status);
  EXPECT_TRUE(watch_status.ok()) << watch_status.error_message();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().state(), v1::Job::CANCELLED);
}

TEST_F(ServerTest, WatchStreamsEventsUntilTheJobEndsThenDownloadArtifact) {
  MustUploadModel("watched");
  v1::Job spec = JobFor("watched");
  spec.set_priority(1);  // ahead of every other queued job of this binary
  v1::Job job;
  ASSERT_TRUE(CreateJob(spec, "", &job).ok());

  grpc::Status watch_status;
  std::vector<v1::JobEvent> events;
  std::thread watcher([&] { events = Watch(job.name(), 0, &watch_status); });
  absl::SleepFor(absl::Milliseconds(300));  // the watch is waiting for news
  std::string artifact(2500000, '\0');
  for (size_t i = 0; i < artifact.size(); ++i) artifact[i] = static_cast<char>(i * 7919 % 256);
  RunJobToSuccess(job, artifact);
  watcher.join();

  ASSERT_TRUE(watch_status.ok()) << watch_status.error_message();
  ASSERT_GE(events.size(), 3u);  // queued, running/progress, succeeded
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].sequence(), i + 1);
  EXPECT_EQ(events.front().state(), v1::Job::QUEUED);
  EXPECT_EQ(events.back().state(), v1::Job::SUCCEEDED);

  // Resuming after the next-to-last event returns only the last one.
  std::vector<v1::JobEvent> rest = Watch(job.name(), events.size() - 1, &watch_status);
  ASSERT_TRUE(watch_status.ok());
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].sequence(), static_cast<int64_t>(events.size()));

  grpc::ClientContext context;
  v1::DownloadArtifactRequest request;
  request.set_job(job.name());
  request.set_kind(v1::PRUNED_MODEL);
  std::unique_ptr<grpc::ClientReader<v1::DownloadArtifactResponse>> reader =
      stub_->DownloadArtifact(&context, request);
  v1::DownloadArtifactResponse chunk;
  std::string downloaded;
  int64_t total = -1;
  std::string sha;
  while (reader->Read(&chunk)) {
    if (downloaded.empty()) {
      total = chunk.total_size_bytes();
      sha = chunk.sha256();
    }
    EXPECT_EQ(chunk.offset(), static_cast<int64_t>(downloaded.size()));
    EXPECT_LE(chunk.data().size(), 1u << 20);
    downloaded += chunk.data();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(total, static_cast<int64_t>(artifact.size()));
  EXPECT_EQ(sha, Sha256Hex(artifact));
  EXPECT_TRUE(downloaded == artifact);

  grpc::ClientContext get_context;
  v1::GetJobRequest get;
  get.set_name(job.name());
  v1::Job finished;
  ASSERT_TRUE(stub_->GetJob(&get_context, get, &finished).ok());
  EXPECT_EQ(finished.state(), v1::Job::SUCCEEDED);
  EXPECT_THAT(finished.report_json(), HasSubstr("flops_ratio"));

  grpc::ClientContext report_context;
  request.set_kind(v1::REPORT);
  reader = stub_->DownloadArtifact(&report_context, request);
  while (reader->Read(&chunk)) {
  }
  ExpectError(reader->Finish(), grpc::StatusCode::NOT_FOUND, "ARTIFACT_NOT_FOUND");
}

TEST_F(ServerTest, ListCandidatesPaginatesAndFiltersThePareto) {
  MustUploadModel("searched");
  v1::Job spec = JobFor("searched");
  spec.set_priority(1);  // ahead of every other queued job of this binary
  v1::Job job;
  ASSERT_TRUE(CreateJob(spec, "", &job).ok());

  v1::ListCandidatesResponse queued;
  ASSERT_TRUE(ListCandidates(job.name(), 0, "", false, &queued).ok());
  EXPECT_EQ(queued.candidates_size(), 0);  // none before the job succeeds

  std::vector<db::CandidateRecord> candidates(3);
  for (int i = 0; i < 3; ++i) {
    candidates[i].index = i;
    candidates[i].widths = {8 - i, 16 - i};
    candidates[i].macs = 1000 - 100 * i;
    candidates[i].params = 300 - 10 * i;
    candidates[i].score = 0.9 - 0.05 * i;
    candidates[i].feasible = i > 0;
    candidates[i].pareto = i != 1;
  }
  RunJobToSuccess(job, "pruned", candidates);

  v1::ListCandidatesResponse first;
  ASSERT_TRUE(ListCandidates(job.name(), 2, "", false, &first).ok());
  ASSERT_EQ(first.candidates_size(), 2);
  EXPECT_FALSE(first.next_page_token().empty());
  EXPECT_EQ(first.candidates(1).index(), 1);
  EXPECT_EQ(first.candidates(1).macs(), 900);
  EXPECT_EQ(first.candidates(1).params(), 290);
  EXPECT_DOUBLE_EQ(first.candidates(1).score(), 0.85);
  EXPECT_TRUE(first.candidates(1).feasible());
  EXPECT_FALSE(first.candidates(1).pareto());
  EXPECT_THAT(first.candidates(1).group_widths(), ::testing::ElementsAre(7, 15));
  v1::ListCandidatesResponse second;
  ASSERT_TRUE(ListCandidates(JobId(job), 2, first.next_page_token(), false, &second).ok());
  ASSERT_EQ(second.candidates_size(), 1);
  EXPECT_EQ(second.candidates(0).index(), 2);
  EXPECT_TRUE(second.next_page_token().empty());

  v1::ListCandidatesResponse pareto;
  ASSERT_TRUE(ListCandidates(job.name(), 0, "", true, &pareto).ok());
  ASSERT_EQ(pareto.candidates_size(), 2);
  EXPECT_EQ(pareto.candidates(0).index(), 0);
  EXPECT_EQ(pareto.candidates(1).index(), 2);

  v1::ListCandidatesResponse error;
  ExpectError(ListCandidates(job.name(), 2, first.next_page_token(), true, &error),
              grpc::StatusCode::INVALID_ARGUMENT, "INVALID_PAGE_TOKEN");
  ExpectError(ListCandidates(job.name(), -1, "", false, &error), grpc::StatusCode::INVALID_ARGUMENT,
              "PAGE_SIZE_INVALID");
  ExpectError(ListCandidates("tenants/default/jobs/00000000-0000-0000-0000-000000000000", 0, "",
                             false, &error),
              grpc::StatusCode::NOT_FOUND, "JOB_NOT_FOUND");
}

TEST_F(ServerTest, DownloadOfAnUnfinishedJobIsFailedPrecondition) {
  MustUploadModel("unfinished");
  v1::Job job;
  ASSERT_TRUE(CreateJob(JobFor("unfinished"), "", &job).ok());
  grpc::ClientContext context;
  v1::DownloadArtifactRequest request;
  request.set_job(job.name());
  request.set_kind(v1::PRUNED_MODEL);
  auto reader = stub_->DownloadArtifact(&context, request);
  v1::DownloadArtifactResponse chunk;
  EXPECT_FALSE(reader->Read(&chunk));
  ExpectError(reader->Finish(), grpc::StatusCode::FAILED_PRECONDITION, "JOB_NOT_SUCCEEDED");
}

TEST_F(ServerTest, ShutdownEndsWatchStreamsAndTurnsHealthNotServing) {
  MustUploadModel("drained");
  v1::Job job;
  ASSERT_TRUE(CreateJob(JobFor("drained"), "", &job).ok());
  grpc::Status watch_status;
  std::thread watcher([&] { Watch(job.name(), 0, &watch_status); });
  absl::SleepFor(absl::Milliseconds(300));
  server_->StartDraining();
  EXPECT_EQ(HealthStatus(""), 2);
  const absl::Time start = absl::Now();
  watcher.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  ExpectError(watch_status, grpc::StatusCode::UNAVAILABLE, "SERVER_SHUTTING_DOWN");
  server_->Shutdown(absl::Seconds(2));
  stopped_ = true;
}

TEST_F(ServerTest, TokenIsRequiredWhenConfigured) {
  server_.reset();
  StartServer("s3cret");
  EXPECT_EQ(HealthStatus(""), 1);  // health needs no token
  for (const char* header : {"", "Bearer wrong", "s3cret"}) {
    grpc::ClientContext context;
    if (*header) context.AddMetadata("authorization", header);
    v1::ListModelsResponse response;
    ExpectError(stub_->ListModels(&context, v1::ListModelsRequest(), &response),
                grpc::StatusCode::UNAUTHENTICATED, "UNAUTHENTICATED");
  }
  grpc::ClientContext context;
  Authorize(&context);
  v1::ListModelsResponse response;
  EXPECT_TRUE(stub_->ListModels(&context, v1::ListModelsRequest(), &response).ok());
}

// --auth database: tenants and tokens from the tokens table.
class DatabaseAuthTest : public ServerTest {
 protected:
  void SetUp() override {
    tokens_ = std::make_unique<db::TokenStore>(backend->pool.get());
    // Names unique in this binary's database.
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    tenant_a_ = absl::AsciiStrToLower(absl::StrCat("a-", test)).substr(0, 60);
    tenant_b_ = absl::AsciiStrToLower(absl::StrCat("b-", test)).substr(0, 60);
    ASSERT_TRUE(tokens_->CreateTenant(tenant_a_).ok());
    ASSERT_TRUE(tokens_->CreateTenant(tenant_b_).ok());
    token_a_ = Issue(tenant_a_, "a");
    token_b_ = Issue(tenant_b_, "b");
    DatabaseAuthenticatorOptions options;
    options.cache_ttl = absl::ZeroDuration();  // revocation is seen at once
    StartServerWith(std::make_unique<DatabaseAuthenticator>(tokens_.get(), options));
    token_ = token_a_;
  }

  std::string Issue(const std::string& tenant, const std::string& name) {
    absl::StatusOr<db::IssuedToken> issued = tokens_->IssueToken(tenant, name);
    EXPECT_TRUE(issued.ok()) << issued.status();
    if (issued.ok()) ids_[issued->plaintext] = issued->record.id;
    return issued.ok() ? issued->plaintext : "";
  }

  grpc::Status ListModelsWith(const std::string& authorization) {
    grpc::ClientContext context;
    if (!authorization.empty()) context.AddMetadata("authorization", authorization);
    v1::ListModelsResponse response;
    return stub_->ListModels(&context, v1::ListModelsRequest(), &response);
  }

  std::unique_ptr<db::TokenStore> tokens_;
  std::string tenant_a_, tenant_b_, token_a_, token_b_;
  std::map<std::string, std::string> ids_;  // plaintext -> id
};

TEST_F(DatabaseAuthTest, MissingInvalidAndRevokedTokensAreUnauthenticated) {
  EXPECT_EQ(HealthStatus(""), 1);  // health needs no token
  EXPECT_EQ(HealthStatus("prune.v1.PruneService"), 1);
  ExpectError(ListModelsWith(""), grpc::StatusCode::UNAUTHENTICATED, "TOKEN_MISSING");
  ExpectError(ListModelsWith("Basic " + token_a_), grpc::StatusCode::UNAUTHENTICATED,
              "TOKEN_MISSING");
  ExpectError(ListModelsWith("Bearer nonsense"), grpc::StatusCode::UNAUTHENTICATED,
              "TOKEN_INVALID");
  ExpectError(ListModelsWith("Bearer prn_" + std::string(64, '0')),
              grpc::StatusCode::UNAUTHENTICATED, "TOKEN_INVALID");
  EXPECT_TRUE(ListModelsWith("Bearer " + token_a_).ok());

  const std::string doomed = Issue(tenant_a_, "doomed");
  EXPECT_TRUE(ListModelsWith("Bearer " + doomed).ok());
  ASSERT_TRUE(tokens_->RevokeToken(ids_[doomed]).ok());
  ExpectError(ListModelsWith("Bearer " + doomed), grpc::StatusCode::UNAUTHENTICATED,
              "TOKEN_REVOKED");
  EXPECT_TRUE(ListModelsWith("Bearer " + token_a_).ok());  // other tokens still work
}

TEST_F(DatabaseAuthTest, TenantsNeverSeeEachOthersModelsAndJobs) {
  const v1::Model model = MustUploadModel("mine");
  EXPECT_THAT(model.name(), StartsWith("tenants/" + tenant_a_ + "/models/"));
  v1::Job job;
  ASSERT_TRUE(CreateJob(JobFor("mine"), "", &job).ok());
  EXPECT_THAT(job.name(), StartsWith("tenants/" + tenant_a_ + "/jobs/"));

  token_ = token_b_;
  const std::string model_id = model.name().substr(model.name().rfind('/') + 1);
  for (const std::string& reference : {model.name(), model_id, std::string("mine")}) {
    grpc::ClientContext context;
    Authorize(&context);
    v1::GetModelRequest request;
    request.set_name(reference);
    v1::Model got;
    ExpectError(stub_->GetModel(&context, request, &got), grpc::StatusCode::NOT_FOUND,
                "MODEL_NOT_FOUND");
  }
  for (const std::string& reference : {job.name(), JobId(job)}) {
    grpc::ClientContext context;
    Authorize(&context);
    v1::GetJobRequest request;
    request.set_name(reference);
    v1::Job got;
    ExpectError(stub_->GetJob(&context, request, &got), grpc::StatusCode::NOT_FOUND,
                "JOB_NOT_FOUND");
    grpc::ClientContext cancel_context;
    Authorize(&cancel_context);
    v1::CancelJobRequest cancel;
    cancel.set_name(reference);
    ExpectError(stub_->CancelJob(&cancel_context, cancel, &got), grpc::StatusCode::NOT_FOUND,
                "JOB_NOT_FOUND");
    v1::ListCandidatesResponse candidates;
    ExpectError(ListCandidates(reference, 0, "", false, &candidates), grpc::StatusCode::NOT_FOUND,
                "JOB_NOT_FOUND");
  }
  v1::Job theirs;
  ExpectError(CreateJob(JobFor(model.name()), "", &theirs), grpc::StatusCode::NOT_FOUND,
              "MODEL_NOT_FOUND");
  grpc::ClientContext list_context;
  Authorize(&list_context);
  v1::ListJobsResponse listed;
  ASSERT_TRUE(stub_->ListJobs(&list_context, v1::ListJobsRequest(), &listed).ok());
  EXPECT_EQ(listed.jobs_size(), 0);
  grpc::ClientContext models_context;
  Authorize(&models_context);
  v1::ListModelsResponse models;
  ASSERT_TRUE(stub_->ListModels(&models_context, v1::ListModelsRequest(), &models).ok());
  EXPECT_EQ(models.models_size(), 0);
  // B may use the same display name in its own tenant.
  EXPECT_THAT(MustUploadModel("mine").name(), StartsWith("tenants/" + tenant_b_ + "/models/"));
}

TEST_F(DatabaseAuthTest, QuotasAreResourceExhaustedWithTheUsage) {
  const v1::Model model = MustUploadModel("quota-model");
  db::QuotaUpdate update;
  update.max_queued_jobs = std::optional<int64_t>(1);
  update.max_stored_bytes = std::optional<int64_t>(model.size_bytes() + 100);
  ASSERT_TRUE(tokens_->SetQuota(tenant_a_, update).ok());

  v1::Job job;
  ASSERT_TRUE(CreateJob(JobFor("quota-model"), "first", &job).ok());
  grpc::Status status = CreateJob(JobFor("quota-model"), "", &job);
  ExpectError(status, grpc::StatusCode::RESOURCE_EXHAUSTED, "QUOTA_QUEUED_JOBS");
  EXPECT_EQ(status.error_message(), "QUOTA_QUEUED_JOBS: 1 queued jobs (limit 1)");
  EXPECT_TRUE(CreateJob(JobFor("quota-model"), "first", &job).ok());  // a repeat is fine

  status = UploadModel("too-much", testing::FakeTorchScriptArchive(4096));
  ExpectError(status, grpc::StatusCode::RESOURCE_EXHAUSTED, "QUOTA_STORED_BYTES");
  EXPECT_THAT(status.error_message(), HasSubstr(absl::StrCat(model.size_bytes(), " bytes stored")));
  EXPECT_THAT(status.error_message(),
              HasSubstr(absl::StrCat("limit of ", model.size_bytes() + 100, " bytes")));

  // Tenant B is not limited by A's quota.
  token_ = token_b_;
  MustUploadModel("quota-model");
  EXPECT_TRUE(CreateJob(JobFor("quota-model"), "", &job).ok());
  EXPECT_TRUE(CreateJob(JobFor("quota-model"), "", &job).ok());
}

TEST(DatabaseAuthenticatorCache, RevocationTakesEffectWhenTheCacheEntryExpires) {
  db::TokenStore tokens(backend->pool.get());
  ASSERT_TRUE(tokens.CreateTenant("cache-tenant").ok());
  absl::StatusOr<db::IssuedToken> issued = tokens.IssueToken("cache-tenant", "t");
  ASSERT_TRUE(issued.ok()) << issued.status();
  absl::Time now = absl::Now();
  DatabaseAuthenticatorOptions options;
  options.cache_ttl = absl::Seconds(5);
  options.clock = [&now] { return now; };
  DatabaseAuthenticator authenticator(&tokens, options);
  ClientMetadata metadata;
  const std::string header = "Bearer " + issued->plaintext;
  metadata.emplace("authorization", header);
  EXPECT_EQ(*authenticator.Authenticate(metadata), "cache-tenant");
  ASSERT_TRUE(tokens.RevokeToken(issued->record.id).ok());
  now += absl::Seconds(4);
  EXPECT_EQ(*authenticator.Authenticate(metadata), "cache-tenant");  // still cached
  now += absl::Seconds(2);
  const absl::StatusOr<std::string> expired = authenticator.Authenticate(metadata);
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(expired.status().message()), StartsWith("TOKEN_REVOKED: "));
}

TEST(ServerWithoutDatabase, UnreachableDatabaseIsUnavailableNotAHang) {
  absl::StatusOr<std::unique_ptr<db::ConnectionPool>> pool =
      db::ConnectionPool::Create("postgresql://postgres@127.0.0.1:1/prune?connect_timeout=2", 2);
  ASSERT_TRUE(pool.ok());
  db::MetadataStore store(pool->get());
  db::BlobStore blobs(pool->get());
  AllowAllAuthenticator authenticator;
  ApiServerOptions options;
  options.listen_address = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<ApiServer>> server =
      ApiServer::Start(options, &store, &blobs, &authenticator);
  ASSERT_TRUE(server.ok());
  auto stub = v1::PruneService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::ListModelsResponse response;
  const absl::Time start = absl::Now();
  const grpc::Status status = stub->ListModels(&context, v1::ListModelsRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_TRUE(HasReason(status.error_message())) << status.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(15));
}

}  // namespace
}  // namespace prune::server

namespace prune::server {
namespace {

constexpr size_t kMiB = 1 << 20;

TEST_F(DatabaseAuthTest, BrokenModelUploadResumesAtTheCommittedSizeForItsTenantOnly) {
  const std::string archive = testing::FakeTorchScriptArchive(3 * kMiB + 12345);
  ASSERT_GT(archive.size(), 3 * kMiB);
  {
    // 2.5 MiB sent, then the client goes away without WritesDone.
    std::unique_ptr<OpenModelUpload> open =
        StartModelUpload("resumed", archive, 0, 2 * kMiB + kMiB / 2);
    ASSERT_EQ(WaitForCommitted(v1::UPLOAD_KIND_MODEL, archive, 2 * kMiB), int64_t{2 * kMiB});
    open->context.TryCancel();
    EXPECT_FALSE(open->writer->Finish().ok());
  }
  // Only whole 1 MiB chunks count: the half chunk is gone.
  v1::UploadStatus status;
  ASSERT_TRUE(UploadStatusOf(v1::UPLOAD_KIND_MODEL, archive, &status).ok());
  EXPECT_EQ(status.committed_bytes(), int64_t{2 * kMiB});
  EXPECT_EQ(status.size_bytes(), static_cast<int64_t>(archive.size()));
  EXPECT_EQ(status.display_name(), "resumed");
  EXPECT_GT(status.expire_time().seconds(), absl::ToUnixSeconds(absl::Now() + absl::Hours(23)));
  // Another kind of the same content is another upload.
  ExpectError(UploadStatusOf(v1::UPLOAD_KIND_DATASET, archive, &status),
              grpc::StatusCode::NOT_FOUND, "UPLOAD_NOT_FOUND");

  // Tenant B neither sees nor continues A's staged bytes.
  token_ = token_b_;
  ExpectError(UploadStatusOf(v1::UPLOAD_KIND_MODEL, archive, &status), grpc::StatusCode::NOT_FOUND,
              "UPLOAD_NOT_FOUND");
  {
    std::unique_ptr<OpenModelUpload> open =
        StartModelUpload("resumed", archive, 2 * kMiB, archive.size());
    const grpc::Status theirs = FinishUpload(open.get());
    ExpectError(theirs, grpc::StatusCode::INVALID_ARGUMENT, "UPLOAD_OFFSET_MISMATCH");
    EXPECT_THAT(theirs.error_message(), HasSubstr("holds 0 committed bytes"));
  }

  token_ = token_a_;
  {
    // A resume at the wrong offset is refused and leaves the staged bytes.
    std::unique_ptr<OpenModelUpload> open =
        StartModelUpload("resumed", archive, kMiB, archive.size());
    const grpc::Status wrong = FinishUpload(open.get());
    ExpectError(wrong, grpc::StatusCode::INVALID_ARGUMENT, "UPLOAD_OFFSET_MISMATCH");
    EXPECT_THAT(wrong.error_message(), HasSubstr(absl::StrCat("holds ", 2 * kMiB, " committed")));
  }
  ASSERT_TRUE(UploadStatusOf(v1::UPLOAD_KIND_MODEL, archive, &status).ok());
  EXPECT_EQ(status.committed_bytes(), int64_t{2 * kMiB});

  std::unique_ptr<OpenModelUpload> open =
      StartModelUpload("resumed", archive, 2 * kMiB, archive.size());
  const grpc::Status resumed = FinishUpload(open.get());
  ASSERT_TRUE(resumed.ok()) << resumed.error_message();
  EXPECT_EQ(open->response.sha256(), Sha256Hex(archive));
  EXPECT_EQ(open->response.size_bytes(), static_cast<int64_t>(archive.size()));
  std::string stored;
  ASSERT_TRUE(backend->blobs
                  ->Read(open->response.sha256(),
                         [&](std::string_view chunk) {
                           stored.append(chunk);
                           return true;
                         })
                  .ok());
  EXPECT_EQ(Sha256Hex(stored), Sha256Hex(archive));
  // Committed: nothing is staged any more.
  ExpectError(UploadStatusOf(v1::UPLOAD_KIND_MODEL, archive, &status), grpc::StatusCode::NOT_FOUND,
              "UPLOAD_NOT_FOUND");
}

TEST_F(ServerTest, DatasetUploadSurvivesAServerRestart) {
  std::string data(3 * kMiB + 7, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7919) % 253);
  std::unique_ptr<OpenDatasetUpload> open = StartDatasetUpload("restart", data, 0, 2 * kMiB);
  ASSERT_EQ(WaitForCommitted(v1::UPLOAD_KIND_DATASET, data, 2 * kMiB), int64_t{2 * kMiB});
  // The server goes away mid-stream: its handler is cancelled.
  server_->Shutdown(absl::Milliseconds(100));
  EXPECT_FALSE(FinishUpload(open.get()).ok());
  open.reset();
  server_.reset();
  StartServer("");

  v1::UploadStatus status;
  ASSERT_TRUE(UploadStatusOf(v1::UPLOAD_KIND_DATASET, data, &status).ok());
  ASSERT_EQ(status.committed_bytes(), int64_t{2 * kMiB});
  open = StartDatasetUpload("restart", data, status.committed_bytes(), data.size());
  const grpc::Status resumed = FinishUpload(open.get());
  ASSERT_TRUE(resumed.ok()) << resumed.error_message();
  EXPECT_EQ(open->response.sha256(), Sha256Hex(data));
}

TEST_F(ServerTest, UploadStatusValidatesItsRequest) {
  v1::UploadStatus status;
  grpc::ClientContext context;
  v1::GetUploadStatusRequest request;
  request.set_sha256(std::string(64, 'a'));
  request.set_size_bytes(10);
  ExpectError(stub_->GetUploadStatus(&context, request, &status),
              grpc::StatusCode::INVALID_ARGUMENT, "UPLOAD_KIND_INVALID");
  grpc::ClientContext context2;
  request.set_kind(v1::UPLOAD_KIND_DATASET);
  request.set_sha256("nope");
  ExpectError(stub_->GetUploadStatus(&context2, request, &status),
              grpc::StatusCode::INVALID_ARGUMENT, "SHA256_INVALID");
}

}  // namespace
}  // namespace prune::server
