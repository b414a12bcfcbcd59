#include "download_stream.h"

#include <cstdio>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "sha256_file.h"

namespace prune::client {
namespace {

// Reads the whole stream into `out`, checking offsets and the announced size.
absl::Status ReceiveInto(grpc::ClientReaderInterface<prune::v1::DownloadArtifactResponse>& reader,
                         std::ofstream& out, DownloadedFile& received, std::string& expected_sha,
                         int64_t& expected_size) {
  prune::v1::DownloadArtifactResponse message;
  Sha256 hasher;
  bool first = true;
  absl::Status local_error;
  while (local_error.ok() && reader.Read(&message)) {
    if (first) {
      expected_size = message.total_size_bytes();
      expected_sha = message.sha256();
      first = false;
      if (expected_sha.empty()) {
        local_error = absl::DataLossError("first download message has no sha256");
        break;
      }
    }
    if (message.offset() != received.size_bytes) {
      local_error = absl::DataLossError(
          absl::StrCat("chunk at offset ", message.offset(), ", expected ", received.size_bytes));
      break;
    }
    const std::string& data = message.data();
    if (received.size_bytes + static_cast<int64_t>(data.size()) > expected_size) {
      local_error = absl::DataLossError(
          absl::StrCat("server sent more than the announced ", expected_size, " bytes"));
      break;
    }
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) {
      local_error = absl::InternalError(absl::StrCat("cannot write ", received.path));
      break;
    }
    hasher.Update(data.data(), data.size());
    received.size_bytes += static_cast<int64_t>(data.size());
  }
  if (!local_error.ok()) return local_error;
  received.sha256 = hasher.FinishHex();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DownloadedFile> DownloadArtifactToFile(Connection& connection,
                                                      const std::string& job,
                                                      prune::v1::ArtifactKind kind,
                                                      const std::string& out_path) {
  const std::string part_path = out_path + ".part";
  std::ofstream out(part_path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot create ", part_path));

  prune::v1::DownloadArtifactRequest request;
  request.set_job(job);
  request.set_kind(kind);
  std::unique_ptr<grpc::ClientContext> context = connection.NewContext(CallKind::kTransfer);
  auto reader = connection.stub().DownloadArtifact(context.get(), request);

  DownloadedFile received;
  received.path = part_path;
  std::string expected_sha;
  int64_t expected_size = 0;
  absl::Status status = ReceiveInto(*reader, out, received, expected_sha, expected_size);
  if (!status.ok()) context->TryCancel();
  const absl::Status rpc_status = FromGrpc(reader->Finish());
  if (status.ok()) status = rpc_status;
  out.close();
  if (status.ok() && expected_sha.empty()) {
    status = absl::DataLossError("download stream ended without data");
  }
  if (status.ok() && received.size_bytes != expected_size) {
    status = absl::DataLossError(absl::StrCat("received ", received.size_bytes,
                                              " bytes, the server announced ", expected_size));
  }
  if (status.ok() && received.sha256 != expected_sha) {
    status = absl::DataLossError(absl::StrCat("sha256 mismatch: received ", received.sha256,
                                              ", the server announced ", expected_sha));
  }
  if (status.ok() && std::rename(part_path.c_str(), out_path.c_str()) != 0) {
    status = absl::InternalError(absl::StrCat("cannot rename ", part_path, " to ", out_path));
  }
  if (!status.ok()) {
    std::remove(part_path.c_str());
    return status;
  }
  received.path = out_path;
  return received;
}

}  // namespace prune::client
