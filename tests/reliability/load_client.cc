// load_client SERVER MODEL_FILE CLIENTS: the load test's client side. CLIENTS
// threads, each with its own gRPC channel (its own TCP connection), start
// together and each uploads MODEL_FILE under its own name, creates a uniform
// flops=0.5 job on it and watches the job to its end (reconnecting from the
// last sequence number if a stream breaks). Prints one JSON object with
// error counts, p50/p99 CreateJob latency and upload throughput; exits 1
// unless every job SUCCEEDED without an RPC error.
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "prune/v1/service.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = prune::v1;

constexpr size_t kChunkBytes = 1 << 20;

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Everything one client saw.
struct ClientResult {
  std::string error;  // first failure, empty when all went well
  Clock::time_point upload_start, upload_end;
  double create_seconds = 0;
  double job_seconds = 0;  // create to terminal state
  v1::Job::State final_state = v1::Job::STATE_UNSPECIFIED;
  int watch_reconnects = 0;
};

// All clients start their first call at once.
class StartLine {
 public:
  explicit StartLine(int count) : waiting_(count) {}
  void ArriveAndWait() {
    std::unique_lock<std::mutex> lock(mu_);
    if (--waiting_ == 0) {
      go_.notify_all();
      return;
    }
    go_.wait(lock, [this] { return waiting_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable go_;
  int waiting_;
};

std::unique_ptr<v1::PruneService::Stub> NewStub(const std::string& server) {
  grpc::ChannelArguments args;
  // Without this, channels to one address share a connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return v1::PruneService::NewStub(
      grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args));
}

void SetDeadline(grpc::ClientContext* context, int seconds) {
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

bool Terminal(v1::Job::State state) {
  return state == v1::Job::SUCCEEDED || state == v1::Job::FAILED || state == v1::Job::CANCELLED;
}

void RunClient(int index, const std::string& server, const std::string& model,
               const std::string& sha256, StartLine* start, ClientResult* result) {
  std::unique_ptr<v1::PruneService::Stub> stub = NewStub(server);
  start->ArriveAndWait();

  // 1. Upload.
  result->upload_start = Clock::now();
  v1::Model uploaded;
  {
    grpc::ClientContext context;
    SetDeadline(&context, 300);
    auto writer = stub->UploadModel(&context, &uploaded);
    v1::UploadModelRequest request;
    v1::UploadMetadata* metadata = request.mutable_metadata();
    metadata->set_display_name("load-" + std::to_string(index));
    for (int64_t dim : {1, 1, 28, 28}) metadata->add_input_shape(dim);
    metadata->set_size_bytes(static_cast<int64_t>(model.size()));
    metadata->set_sha256(sha256);
    bool written = writer->Write(request);
    for (size_t offset = 0; written && offset < model.size(); offset += kChunkBytes) {
      v1::UploadModelRequest chunk;
      chunk.mutable_chunk()->set_offset(static_cast<int64_t>(offset));
      chunk.mutable_chunk()->set_data(model.substr(offset, kChunkBytes));
      written = writer->Write(chunk);
    }
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    result->upload_end = Clock::now();
    if (!status.ok()) {
      result->error = "UploadModel: " + status.error_message();
      return;
    }
  }

  // 2. CreateJob.
  v1::Job job;
  {
    grpc::ClientContext context;
    SetDeadline(&context, 60);
    v1::CreateJobRequest request;
    request.set_request_id("load-" + std::to_string(index));
    request.mutable_job()->set_model(uploaded.name());
    request.mutable_job()->set_strategy(v1::UNIFORM);
    request.mutable_job()->mutable_target()->set_kind(v1::Target::FLOPS);
    request.mutable_job()->mutable_target()->set_ratio(0.5);
    const Clock::time_point t0 = Clock::now();
    grpc::Status status = stub->CreateJob(&context, request, &job);
    result->create_seconds = Seconds(Clock::now() - t0);
    if (!status.ok()) {
      result->error = "CreateJob: " + status.error_message();
      return;
    }
  }

  // 3. Watch to the end; a broken stream resumes after the last event seen.
  const Clock::time_point created = Clock::now();
  int64_t last_sequence = 0;
  for (int attempt = 0; attempt < 20 && !Terminal(result->final_state); ++attempt) {
    if (attempt > 0) ++result->watch_reconnects;
    grpc::ClientContext context;
    SetDeadline(&context, 600);
    v1::WatchJobRequest request;
    request.set_name(job.name());
    request.set_after_sequence(last_sequence);
    auto reader = stub->WatchJob(&context, request);
    v1::JobEvent event;
    while (reader->Read(&event)) {
      last_sequence = event.sequence();
      result->final_state = event.state();
      if (Terminal(event.state())) break;
    }
    if (Terminal(result->final_state)) {
      context.TryCancel();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    reader->Finish();
  }
  result->job_seconds = Seconds(Clock::now() - created);
  if (result->final_state != v1::Job::SUCCEEDED) {
    result->error = "job " + job.name() + " ended " + v1::Job::State_Name(result->final_state);
  }
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  // Nearest rank: with 50 samples p99 is the largest.
  size_t rank = static_cast<size_t>(p / 100.0 * values.size() + 0.999999);
  rank = std::clamp<size_t>(rank, 1, values.size());
  return values[rank - 1];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: load_client SERVER MODEL_FILE CLIENTS\n");
    return 2;
  }
  const std::string server = argv[1];
  std::ifstream in(argv[2], std::ios::binary);
  const std::string model((std::istreambuf_iterator<char>(in)), {});
  const int clients = std::stoi(argv[3]);
  if (model.empty() || clients <= 0) {
    std::fprintf(stderr, "load_client: empty model file or no clients\n");
    return 2;
  }
  const std::string sha256 = Sha256Hex(model);

  std::vector<ClientResult> results(clients);
  StartLine start(clients);
  std::vector<std::thread> threads;
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back(RunClient, i, server, model, sha256, &start, &results[i]);
  }
  for (std::thread& t : threads) t.join();
  const double wall = Seconds(Clock::now() - t0);

  int errors = 0, succeeded = 0, reconnects = 0;
  std::vector<double> create, upload, job;
  Clock::time_point first_upload = Clock::time_point::max(), last_upload{};
  for (const ClientResult& r : results) {
    if (!r.error.empty()) {
      ++errors;
      std::fprintf(stderr, "load_client: %s\n", r.error.c_str());
    }
    if (r.final_state == v1::Job::SUCCEEDED) ++succeeded;
    reconnects += r.watch_reconnects;
    if (r.create_seconds > 0) create.push_back(r.create_seconds);
    if (r.job_seconds > 0) job.push_back(r.job_seconds);
    if (r.upload_end > r.upload_start) {
      upload.push_back(Seconds(r.upload_end - r.upload_start));
      first_upload = std::min(first_upload, r.upload_start);
      last_upload = std::max(last_upload, r.upload_end);
    }
  }
  const double upload_window = last_upload > first_upload ? Seconds(last_upload - first_upload) : 0;
  const double mib = static_cast<double>(model.size()) / (1 << 20);
  std::printf(
      "{\"clients\": %d, \"succeeded\": %d, \"errors\": %d, \"watch_reconnects\": %d, "
      "\"model_bytes\": %zu, \"wall_seconds\": %.2f, "
      "\"create_job_ms\": {\"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f}, "
      "\"upload_ms\": {\"p50\": %.1f, \"p99\": %.1f}, "
      "\"upload_aggregate_mib_per_s\": %.2f, \"upload_per_client_mib_per_s_p50\": %.2f, "
      "\"job_seconds\": {\"p50\": %.2f, \"p99\": %.2f}}\n",
      clients, succeeded, errors, reconnects, model.size(), wall, 1e3 * Percentile(create, 50),
      1e3 * Percentile(create, 99), 1e3 * Percentile(create, 100), 1e3 * Percentile(upload, 50),
      1e3 * Percentile(upload, 99),
      upload_window > 0 ? mib * static_cast<double>(upload.size()) / upload_window : 0,
      Percentile(upload, 50) > 0 ? mib / Percentile(upload, 50) : 0, Percentile(job, 50),
      Percentile(job, 99));
  return errors == 0 && succeeded == clients ? 0 : 1;
}
