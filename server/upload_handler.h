// The server side of the upload protocol shared by UploadModel and
// UploadDataset: metadata first, then in-order chunks streamed straight into a
// BlobWriter, so memory stays bounded by one chunk whatever the file size.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/db/blob_store.h"
#include "prune/v1/service.pb.h"
#include "server/model_archive_check.h"

namespace prune::server {

inline constexpr int64_t kMaxChunkBytes = 1 << 20;
inline constexpr size_t kMaxDisplayNameBytes = 200;

enum class UploadKind { kModel, kDataset };

// Validates the first message of an upload (display name, size, sha256 and,
// for models, input_shape). The sha256 is returned lower-cased in place.
absl::Status ValidateUploadMetadata(UploadKind kind, int64_t max_upload_bytes,
                                    v1::UploadMetadata* metadata);

class UploadSession {
 public:
  using BeginBlob = std::function<absl::StatusOr<std::unique_ptr<db::BlobWriter>>(
      int64_t size_bytes, const std::string& sha256)>;
  // Runs after the metadata is valid and before any byte is stored; e.g. a
  // duplicate-name check so a doomed upload fails before its bytes travel.
  using CheckMetadata = std::function<absl::Status(const v1::UploadMetadata&)>;

  UploadSession(UploadKind kind, int64_t max_upload_bytes, BeginBlob begin_blob,
                CheckMetadata check_metadata = nullptr);

  absl::Status OnMetadata(v1::UploadMetadata metadata);
  absl::Status OnChunk(const v1::UploadChunk& chunk);
  // The client finished sending: checks size and content, commits the blob.
  absl::Status Finish();

  bool has_metadata() const { return metadata_.has_value(); }
  const v1::UploadMetadata& metadata() const { return *metadata_; }

 private:
  UploadKind kind_;
  int64_t max_upload_bytes_;
  BeginBlob begin_blob_;
  CheckMetadata check_metadata_;
  std::optional<v1::UploadMetadata> metadata_;
  std::unique_ptr<db::BlobWriter> writer_;
  ModelArchiveSniffer sniffer_;
  int64_t received_ = 0;
};

// Reads a whole upload stream (UploadModelRequest or UploadDatasetRequest)
// into `session`. `read(Request*)` returns false at the end of the stream.
template <typename Request, typename ReadFn>
absl::Status ReceiveUpload(ReadFn&& read, UploadSession* session) {
  Request request;
  if (!read(&request) || request.part_case() != Request::kMetadata) {
    return absl::InvalidArgumentError(
        "UPLOAD_METADATA_MISSING: the first message of an upload must carry `metadata`");
  }
  if (absl::Status s = session->OnMetadata(std::move(*request.mutable_metadata())); !s.ok()) {
    return s;
  }
  while (read(&request)) {
    if (request.part_case() != Request::kChunk) {
      return absl::InvalidArgumentError(
          "UPLOAD_METADATA_REPEATED: only the first message may carry `metadata`");
    }
    if (absl::Status s = session->OnChunk(request.chunk()); !s.ok()) return s;
  }
  return session->Finish();
}

}  // namespace prune::server
