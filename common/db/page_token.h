// Opaque keyset-pagination tokens: the sort key (created_at, id) of the last
// row of a page plus the query they belong to, web-safe base64 encoded.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace prune::db {

struct PageKey {
  std::string query;  // e.g. "models" or "jobs:queued"; a token only fits its own query
  absl::Time created_at;
  std::string id;
};

std::string EncodePageToken(const PageKey& key);
// INVALID_ARGUMENT ("INVALID_PAGE_TOKEN: ...") for a malformed token or one
// issued for another query.
absl::StatusOr<PageKey> DecodePageToken(const std::string& token, const std::string& query);

// page_size <= 0 means the default (50); larger than 1000 is clamped.
int ClampPageSize(int page_size);

}  // namespace prune::db
