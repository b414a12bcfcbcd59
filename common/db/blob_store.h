// Content-addressed blobs (sha256) stored as chunked bytea rows, streamed in
// and out so that no file is ever held whole in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace prune::db {

class ConnectionPool;

// Streams one blob into the store. Append() in order, then Commit(). Data is
// written in chunks of at most kBlobChunkBytes as it arrives. Destroying an
// uncommitted writer discards what was written.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  // INVALID_ARGUMENT when more than the expected size arrives.
  virtual absl::Status Append(std::string_view data) = 0;
  virtual int64_t bytes_written() const = 0;
  // Verifies size and sha256 (INVALID_ARGUMENT with "SIZE_MISMATCH: ..." or
  // "SHA256_MISMATCH: ..." otherwise) and makes the blob visible.
  virtual absl::Status Commit() = 0;
};

class BlobStore {
 public:
  static constexpr int64_t kBlobChunkBytes = 1 << 20;

  explicit BlobStore(ConnectionPool* pool);

  // expected_sha256: lower-case hex. A blob that already exists is verified
  // against the incoming bytes and then shared (content addressing).
  absl::StatusOr<std::unique_ptr<BlobWriter>> Begin(int64_t expected_size,
                                                    std::string expected_sha256);
  // Stores a whole local file (worker results). Returns its sha256.
  absl::StatusOr<std::string> PutFile(const std::string& path);
  // Calls on_chunk with consecutive pieces (<= kBlobChunkBytes). NOT_FOUND
  // when the blob does not exist. on_chunk returning false stops early
  // with CANCELLED.
  absl::Status Read(const std::string& sha256,
                    const std::function<bool(std::string_view)>& on_chunk);
  absl::Status ReadToFile(const std::string& sha256, const std::string& path);
  absl::StatusOr<int64_t> Size(const std::string& sha256);
  // Deletes the staged chunks of uploads begun before `started_before` that
  // never committed (their process died). Returns how many were removed.
  absl::StatusOr<int> PurgeStaleUploads(absl::Time started_before);

 private:
  ConnectionPool* pool_;
};

}  // namespace prune::db
