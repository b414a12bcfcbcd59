#include "server/resource_names.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace prune::server {
namespace {

constexpr absl::string_view kTenantsPrefix = "tenants/";

}  // namespace

std::string FormatResourceName(absl::string_view tenant, absl::string_view collection,
                               absl::string_view id) {
  return absl::StrCat(kTenantsPrefix, tenant, "/", collection, "/", id);
}

bool LooksLikeResourceName(absl::string_view name) {
  return absl::StartsWith(name, kTenantsPrefix);
}

absl::StatusOr<ResourceName> ParseResourceName(absl::string_view name,
                                               absl::string_view collection) {
  const std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  if (parts.size() != 4 || parts[0] != "tenants" || parts[1].empty() || parts[3].empty() ||
      parts[2] != collection) {
    return absl::InvalidArgumentError(absl::StrCat("INVALID_RESOURCE_NAME: '", name,
                                                   "' is not of the form tenants/{tenant}/",
                                                   collection, "/{id}"));
  }
  return ResourceName{std::string(parts[1]), std::string(parts[2]), std::string(parts[3])};
}

absl::StatusOr<std::string> ResolveReference(absl::string_view reference, absl::string_view tenant,
                                             absl::string_view collection,
                                             absl::string_view not_found_reason) {
  if (reference.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "NAME_REQUIRED: a ", collection, " resource name, id or display name is required"));
  }
  // Display names have no control characters and ids are uuids, so such a
  // reference names nothing. It must not reach the database either: text
  // parameters travel as C strings, and "abc\0x" would find "abc".
  for (char c : reference) {
    if (absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
      return absl::NotFoundError(absl::StrCat(not_found_reason, ": '", absl::CHexEscape(reference),
                                              "' does not exist in this tenant"));
    }
  }
  if (!LooksLikeResourceName(reference)) return std::string(reference);
  absl::StatusOr<ResourceName> parsed = ParseResourceName(reference, collection);
  if (!parsed.ok()) return parsed.status();
  if (parsed->tenant != tenant) {
    return absl::NotFoundError(
        absl::StrCat(not_found_reason, ": '", reference, "' does not exist in this tenant"));
  }
  return parsed->id;
}

}  // namespace prune::server
