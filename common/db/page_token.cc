#include "common/db/page_token.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace prune::db {

std::string EncodePageToken(const PageKey& key) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(key.query, "|", absl::ToUnixMicros(key.created_at), "|", key.id));
}

absl::StatusOr<PageKey> DecodePageToken(const std::string& token, const std::string& query) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) {
    return absl::InvalidArgumentError("INVALID_PAGE_TOKEN: not a page token");
  }
  std::vector<std::string> parts = absl::StrSplit(raw, '|');
  int64_t micros = 0;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[1], &micros) || parts[2].empty()) {
    return absl::InvalidArgumentError("INVALID_PAGE_TOKEN: not a page token");
  }
  if (parts[0] != query) {
    return absl::InvalidArgumentError(
        "INVALID_PAGE_TOKEN: the token belongs to a different list request");
  }
  return PageKey{parts[0], absl::FromUnixMicros(micros), parts[2]};
}

int ClampPageSize(int page_size) {
  if (page_size <= 0) return 50;
  return page_size > 1000 ? 1000 : page_size;
}

}  // namespace prune::db
