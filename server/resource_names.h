// Resource names of the API: "tenants/{tenant}/{collection}/{id}".
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prune::server {

inline constexpr absl::string_view kModels = "models";
inline constexpr absl::string_view kDatasets = "datasets";
inline constexpr absl::string_view kJobs = "jobs";

struct ResourceName {
  std::string tenant;
  std::string collection;  // kModels, kDatasets or kJobs
  std::string id;
};

std::string FormatResourceName(absl::string_view tenant, absl::string_view collection,
                               absl::string_view id);

// Parses "tenants/{tenant}/{collection}/{id}". INVALID_ARGUMENT
// ("INVALID_RESOURCE_NAME: ...") for any other shape or another collection.
absl::StatusOr<ResourceName> ParseResourceName(absl::string_view name,
                                               absl::string_view collection);

bool LooksLikeResourceName(absl::string_view name);

// What a request may use to refer to a resource: its resource name, its bare
// id or (models, datasets) its display name. Returns the id or display name to
// look up within `tenant`. A resource name of another tenant is NOT_FOUND with
// `not_found_reason`, exactly like a resource that does not exist, so tenants
// cannot probe each other's ids. A reference with a control character is
// NOT_FOUND too (no display name has one).
absl::StatusOr<std::string> ResolveReference(absl::string_view reference, absl::string_view tenant,
                                             absl::string_view collection,
                                             absl::string_view not_found_reason);

}  // namespace prune::server
