#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "connection.h"
#include "prune/v1/resources.pb.h"

namespace prune::client {

// The server accepts chunks of at most 1 MiB.
inline constexpr int64_t kMaxUploadChunkBytes = 1 << 20;

// Streams `path` to UploadModel: metadata (display name, input shape, size,
// sha256) first, then chunks of at most `chunk_bytes` with their offsets. The
// file is hashed in a first pass and read again while sending, so it is never
// held whole in memory; a file that changes in between is an error.
absl::StatusOr<prune::v1::Model> UploadModelFile(Connection& connection, const std::string& path,
                                                 const std::string& display_name,
                                                 const std::vector<int64_t>& input_shape,
                                                 int64_t chunk_bytes = kMaxUploadChunkBytes);

// The same protocol for UploadDataset.
absl::StatusOr<prune::v1::Dataset> UploadDatasetFile(Connection& connection,
                                                     const std::string& path,
                                                     const std::string& display_name,
                                                     int64_t chunk_bytes = kMaxUploadChunkBytes);

}  // namespace prune::client
