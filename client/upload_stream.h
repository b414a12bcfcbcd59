#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "connection.h"
#include "prune/v1/resources.pb.h"
#include "retry_policy.h"

namespace prune::client {

// The server accepts chunks of at most 1 MiB.
inline constexpr int64_t kMaxUploadChunkBytes = 1 << 20;

struct UploadOptions {
  int64_t chunk_bytes = kMaxUploadChunkBytes;
  // Before the first stream, ask GetUploadStatus and continue what an earlier
  // run (killed, or out of retries) left staged on the server. Without it the
  // first stream starts at byte 0, which makes the server drop staged bytes.
  bool resume = false;
  // A stream that breaks (UNAVAILABLE, or ABORTED from the server) is retried
  // this often with backoff; each retry asks GetUploadStatus and continues
  // from the committed size.
  RetryPolicy retry;
  // One line per retry ("upload interrupted ..."); null is silent.
  std::ostream* log = nullptr;
};

// Streams `path` to UploadModel: metadata (display name, input shape, size,
// sha256) first, then chunks of at most `chunk_bytes` with their offsets. The
// file is hashed in a first pass and read again while sending, so it is never
// held whole in memory; a file that changes in between is an error (the
// server's sha256 check catches it after a resume too).
absl::StatusOr<prune::v1::Model> UploadModelFile(Connection& connection, const std::string& path,
                                                 const std::string& display_name,
                                                 const std::vector<int64_t>& input_shape,
                                                 const UploadOptions& options = {});

// The same protocol for UploadDataset.
absl::StatusOr<prune::v1::Dataset> UploadDatasetFile(Connection& connection,
                                                     const std::string& path,
                                                     const std::string& display_name,
                                                     const UploadOptions& options = {});

// Whether an upload that failed with `status` is worth resuming: the stream
// broke or the server lost track of where it was, not a verdict on the file.
bool IsResumableUploadFailure(const absl::Status& status);

}  // namespace prune::client
