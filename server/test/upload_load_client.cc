// upload_load_client ADDRESS SIZE_MIB [BREAK_AT_MIB]: uploads a generated
// dataset of SIZE_MIB MiB to a real pruned (no file on disk: chunk i is a
// deterministic function of i, so any chunk can be produced again when
// resuming). With BREAK_AT_MIB the first stream is cancelled once that much
// is committed and the upload resumes through GetUploadStatus, so the
// server's re-hash of the staged bytes is measured too. Prints the time and
// throughput; exits non-zero on any failure. Used by upload_memory_test.sh.
#include <openssl/evp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/escaping.h"
#include "prune/v1/service.grpc.pb.h"

namespace {

constexpr int64_t kMiB = 1 << 20;

// xorshift64*: fast, and incompressible enough that Postgres stores it all.
void FillChunk(int64_t index, std::string* chunk) {
  chunk->resize(kMiB);
  uint64_t x = 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(index + 1);
  for (int64_t i = 0; i < kMiB; i += 8) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    const uint64_t v = x * 0x2545F4914F6CDD1DULL;
    std::memcpy(chunk->data() + i, &v, 8);
  }
}

std::string Sha256OfGenerated(int64_t chunks) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::string chunk;
  for (int64_t i = 0; i < chunks; ++i) {
    FillChunk(i, &chunk);
    EVP_DigestUpdate(ctx, chunk.data(), chunk.size());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest, &length);
  EVP_MD_CTX_free(ctx);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), length));
}

int64_t Committed(prune::v1::PruneService::Stub* stub, const std::string& sha, int64_t size) {
  grpc::ClientContext context;
  prune::v1::GetUploadStatusRequest request;
  request.set_kind(prune::v1::UPLOAD_KIND_DATASET);
  request.set_sha256(sha);
  request.set_size_bytes(size);
  prune::v1::UploadStatus status;
  return stub->GetUploadStatus(&context, request, &status).ok() ? status.committed_bytes() : 0;
}

// Streams chunks [first, chunks). With break_at > 0 cancels the call once
// the server committed break_at chunks. Returns the call's status.
grpc::Status Stream(prune::v1::PruneService::Stub* stub, const std::string& sha, int64_t chunks,
                    int64_t first, int64_t break_at) {
  grpc::ClientContext context;
  prune::v1::Dataset dataset;
  auto writer = stub->UploadDataset(&context, &dataset);
  prune::v1::UploadDatasetRequest request;
  prune::v1::UploadMetadata* metadata = request.mutable_metadata();
  metadata->set_display_name("load-test-" + std::to_string(chunks) + "mib");
  metadata->set_size_bytes(chunks * kMiB);
  metadata->set_sha256(sha);
  bool open = writer->Write(request);
  std::string data;
  for (int64_t i = first; open && i < chunks; ++i) {
    if (break_at > 0 && i == break_at) {
      while (Committed(stub, sha, chunks * kMiB) < break_at * kMiB) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      context.TryCancel();
      return writer->Finish();
    }
    FillChunk(i, &data);
    prune::v1::UploadDatasetRequest chunk;
    chunk.mutable_chunk()->set_offset(i * kMiB);
    chunk.mutable_chunk()->set_data(data);
    open = writer->Write(chunk);
  }
  if (open) writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (status.ok() && dataset.sha256() != sha) {
    return grpc::Status(grpc::StatusCode::DATA_LOSS, "stored sha256 differs");
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s ADDRESS SIZE_MIB [BREAK_AT_MIB]\n", argv[0]);
    return 2;
  }
  const int64_t chunks = std::atoll(argv[2]);
  const int64_t break_at = argc > 3 ? std::atoll(argv[3]) : 0;
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(2 * kMiB);
  auto stub = prune::v1::PruneService::NewStub(
      grpc::CreateCustomChannel(argv[1], grpc::InsecureChannelCredentials(), args));

  const auto hash_start = std::chrono::steady_clock::now();
  const std::string sha = Sha256OfGenerated(chunks);
  const auto start = std::chrono::steady_clock::now();
  std::printf("generated and hashed %lld MiB in %.1f s: %s\n", static_cast<long long>(chunks),
              std::chrono::duration<double>(start - hash_start).count(), sha.c_str());

  int64_t first = 0;
  if (break_at > 0) {
    const grpc::Status broken = Stream(stub.get(), sha, chunks, 0, break_at);
    first = Committed(stub.get(), sha, chunks * kMiB) / kMiB;
    const double broken_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("first stream: %lld MiB committed in %.1f s (%.1f MiB/s), then cancelled (%s)\n",
                static_cast<long long>(first), broken_seconds,
                static_cast<double>(first) / broken_seconds, broken.error_message().c_str());
    if (first != break_at) return 1;
  }
  const auto resume_start = std::chrono::steady_clock::now();
  const grpc::Status status = Stream(stub.get(), sha, chunks, first, 0);
  if (first > 0) {
    std::printf(
        "resumed stream: re-hashed %lld MiB and received %lld MiB in %.1f s\n",
        static_cast<long long>(first), static_cast<long long>(chunks - first),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - resume_start).count());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!status.ok()) {
    std::fprintf(stderr, "upload failed: %d %s\n", status.error_code(),
                 status.error_message().c_str());
    return 1;
  }
  std::printf("uploaded %lld MiB in %.1f s: %.1f MiB/s\n", static_cast<long long>(chunks), seconds,
              static_cast<double>(chunks) / seconds);
  return 0;
}
