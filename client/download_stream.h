#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "connection.h"
#include "prune/v1/service.pb.h"

namespace prune::client {

struct DownloadedFile {
  std::string path;
  int64_t size_bytes = 0;
  std::string sha256;
};

// Streams an artifact of `job` into `out_path`. Bytes go to "<out_path>.part",
// which is renamed to `out_path` only after the size and sha256 announced in
// the first message match what arrived; otherwise it is removed and the
// result is DATA_LOSS.
absl::StatusOr<DownloadedFile> DownloadArtifactToFile(Connection& connection,
                                                      const std::string& job,
                                                      prune::v1::ArtifactKind kind,
                                                      const std::string& out_path);

}  // namespace prune::client
