#include "shape_parse.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace prune::client {

absl::StatusOr<std::vector<int64_t>> ParseShape(absl::string_view text) {
  absl::string_view body = absl::StripAsciiWhitespace(text);
  if (absl::ConsumePrefix(&body, "[") && !absl::ConsumeSuffix(&body, "]")) {
    return absl::InvalidArgumentError(absl::StrCat("shape \"", text, "\" has an unclosed ["));
  }
  if (absl::StripAsciiWhitespace(body).empty()) {
    return absl::InvalidArgumentError("shape is empty; expected e.g. 1,1,28,28");
  }
  std::vector<int64_t> dims;
  for (absl::string_view part : absl::StrSplit(body, ',')) {
    int64_t dim = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &dim) || dim <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape \"", text, "\": dimension \"", part, "\" is not a positive integer"));
    }
    dims.push_back(dim);
  }
  return dims;
}

std::string FormatShape(const std::vector<int64_t>& dims) { return absl::StrJoin(dims, ","); }

}  // namespace prune::client
