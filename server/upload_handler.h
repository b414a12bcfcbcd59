// The server side of the upload protocol shared by UploadModel and
// UploadDataset: metadata first, then in-order chunks streamed straight into a
// BlobWriter, so memory stays bounded by one chunk whatever the file size.
// A stream that breaks leaves its whole chunks staged; a later stream with the
// same metadata resumes at their end (first chunk offset = committed bytes).
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

// "model" or "dataset": the kind column of a resumable upload.
const char* UploadKindName(UploadKind kind);

class UploadSession {
 public:
  // Begins (or continues) the blob of the validated metadata.
  using BeginBlob = std::function<absl::StatusOr<std::unique_ptr<db::BlobWriter>>(
      const v1::UploadMetadata& metadata)>;
  // Runs after the metadata is valid and before any byte is stored; e.g. a
  // duplicate-name check so a doomed upload fails before its bytes travel.
  using CheckMetadata = std::function<absl::Status(const v1::UploadMetadata&)>;

  UploadSession(UploadKind kind, int64_t max_upload_bytes, BeginBlob begin_blob,
                CheckMetadata check_metadata = nullptr);
  // Keeps the staged chunks when Interrupt() or an offset mismatch asked to;
  // otherwise an unfinished writer discards them.
  ~UploadSession();
  UploadSession(UploadSession&&) = default;

  absl::Status OnMetadata(v1::UploadMetadata metadata);
  // The first chunk starts the upload at offset 0 (over any staged bytes) or
  // resumes it at the staged bytes' end; anything else is INVALID_ARGUMENT
  // "UPLOAD_OFFSET_MISMATCH: ..." naming the committed size.
  absl::Status OnChunk(const v1::UploadChunk& chunk);
  // The client finished sending: checks size and content, commits the blob.
  absl::Status Finish();
  // The stream broke (client cancelled, connection lost, server shutting
  // down): the whole chunks stay staged for a resume. Returns the status to
  // answer with, ABORTED "UPLOAD_INTERRUPTED: ...".
  absl::Status Interrupt();

  bool has_metadata() const { return metadata_.has_value(); }
  const v1::UploadMetadata& metadata() const { return *metadata_; }

 private:
  UploadKind kind_;
  int64_t max_upload_bytes_;
  BeginBlob begin_blob_;
  CheckMetadata check_metadata_;
  std::optional<v1::UploadMetadata> metadata_;
  // First chunk at `offset`: start over, resume, or UPLOAD_OFFSET_MISMATCH.
  absl::Status Start(int64_t offset);

  std::unique_ptr<db::BlobWriter> writer_;
  ModelArchiveSniffer sniffer_;
  int64_t received_ = 0;
  bool started_ = false;
  bool keep_staged_ = false;
};

// Reads a whole upload stream (UploadModelRequest or UploadDatasetRequest)
// into `session`. `read(Request*)` returns false at the end of the stream;
// `cancelled()` (may be empty) then tells a broken stream from a finished one.
template <typename Request, typename ReadFn>
absl::Status ReceiveUpload(ReadFn&& read, UploadSession* session,
                           const std::function<bool()>& cancelled = nullptr) {
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
  if (cancelled && cancelled()) return session->Interrupt();
  return session->Finish();
}

}  // namespace prune::server
