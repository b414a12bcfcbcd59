// Content-addressed blobs (sha256) stored as chunked bytea rows, streamed in
// and out so that no file is ever held whole in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace prune::db {

class Connection;
class ConnectionPool;

// Streams one blob into the store. Append() in order, then Commit(). Data is
// written in chunks of at most kBlobChunkBytes as it arrives. Destroying an
// uncommitted writer discards what was written, unless Suspend() kept it for a
// later resume.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  // INVALID_ARGUMENT when more than the expected size arrives. ABORTED
  // "UPLOAD_CONFLICT: ..." when another stream stages the same upload.
  virtual absl::Status Append(std::string_view data) = 0;
  virtual int64_t bytes_written() const = 0;
  // Bytes an earlier, broken stream left staged for this upload (a multiple
  // of kBlobChunkBytes: only whole flushed chunks count). Before the first
  // Append the writer may ResumeStaged() them or StartOver(); Append alone
  // starts over.
  virtual int64_t staged_bytes() const { return 0; }
  // Continues after the staged bytes: reads them back one chunk at a time
  // (never the whole file in memory) into the sha256, passing each chunk to
  // `observe` too, so checks over the whole file still see it from byte 0.
  virtual absl::Status ResumeStaged(const std::function<void(std::string_view)>& observe) {
    (void)observe;
    return absl::OkStatus();
  }
  // Starts at byte 0 with an upload of its own. Staged bytes of earlier
  // streams stay for whoever resumes them, until PurgeStaleUploads.
  virtual absl::Status StartOver() { return absl::OkStatus(); }
  // Stops without committing and keeps the whole chunks staged so that a
  // later stream can resume; the partial chunk in memory is dropped. Staged
  // uploads nobody resumes are purged by PurgeStaleUploads.
  virtual void Suspend() {}
  // Verifies size and sha256 (INVALID_ARGUMENT with "SIZE_MISMATCH: ..." or
  // "SHA256_MISMATCH: ..." otherwise) and makes the blob visible.
  virtual absl::Status Commit() = 0;
};

// Makes an upload resumable: who staged it and for what. A later Begin with
// the same tenant, kind, size and sha256 may continue it (0004_resumable_uploads).
struct UploadScope {
  std::string tenant;
  std::string kind;  // "model" or "dataset"
  std::string display_name;
};

// What GetUploadStatus reports about a staged upload.
struct StagedUpload {
  int64_t committed_bytes = 0;  // whole chunks stored; resume from here
  int64_t size_bytes = 0;
  std::string display_name;
  absl::Time updated_at;  // the last staged chunk; the TTL runs from here
  std::string upload_id;
};

class BlobStore {
 public:
  static constexpr int64_t kBlobChunkBytes = 1 << 20;

  explicit BlobStore(ConnectionPool* pool);

  // expected_sha256: lower-case hex. A blob that already exists is verified
  // against the incoming bytes and then shared (content addressing).
  // With a scope the upload is resumable: the writer may continue the
  // scope's staged upload of this content (BlobWriter::staged_bytes,
  // ResumeStaged) or stage its own (StartOver).
  absl::StatusOr<std::unique_ptr<BlobWriter>> Begin(
      int64_t expected_size, std::string expected_sha256,
      const std::optional<UploadScope>& scope = std::nullopt);
  // The tenant's staged, uncommitted upload of this kind and content that
  // holds the most bytes, or NOT_FOUND "UPLOAD_NOT_FOUND: ...". Other
  // tenants' uploads are never found.
  absl::StatusOr<StagedUpload> FindStagedUpload(const std::string& tenant, const std::string& kind,
                                                const std::string& sha256, int64_t size_bytes);
  // Stores a whole local file (worker results). Returns its sha256.
  absl::StatusOr<std::string> PutFile(const std::string& path);
  // Calls on_chunk with consecutive pieces (<= kBlobChunkBytes). NOT_FOUND
  // when the blob does not exist. on_chunk returning false stops early
  // with CANCELLED.
  absl::Status Read(const std::string& sha256,
                    const std::function<bool(std::string_view)>& on_chunk);
  absl::Status ReadToFile(const std::string& sha256, const std::string& path);
  absl::StatusOr<int64_t> Size(const std::string& sha256);
  // Deletes the staged chunks of uncommitted uploads whose last chunk was
  // staged before `idle_since` (their process died, or their client never
  // resumed). Returns how many were removed.
  absl::StatusOr<int> PurgeStaleUploads(absl::Time idle_since);

 private:
  static absl::StatusOr<StagedUpload> FindStaged(Connection* conn, const std::string& tenant,
                                                 const std::string& kind,
                                                 const std::string& sha256, int64_t size_bytes);

  ConnectionPool* pool_;
};

}  // namespace prune::db
