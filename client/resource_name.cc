#include "resource_name.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace prune::client {

absl::StatusOr<ResourceName> ParseResourceName(absl::string_view name) {
  const std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  if (parts.size() != 4 || parts[0] != "tenants" || parts[1].empty() || parts[2].empty() ||
      parts[3].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", name, "\" is not a resource name of the form tenants/{tenant}/{collection}/{id}"));
  }
  return ResourceName{std::string(parts[1]), std::string(parts[2]), std::string(parts[3])};
}

absl::StatusOr<std::string> CheckReference(absl::string_view reference,
                                           absl::string_view collection) {
  if (reference.empty()) {
    return absl::InvalidArgumentError("empty resource reference");
  }
  if (!absl::StrContains(reference, '/')) {
    return std::string(reference);
  }
  absl::StatusOr<ResourceName> parsed = ParseResourceName(reference);
  if (!parsed.ok()) return parsed.status();
  if (parsed->collection != collection) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", reference, "\" names a ", parsed->collection, " resource, expected ", collection));
  }
  return std::string(reference);
}

std::string ShortName(absl::string_view reference) {
  const size_t slash = reference.rfind('/');
  return std::string(slash == absl::string_view::npos ? reference : reference.substr(slash + 1));
}

}  // namespace prune::client
