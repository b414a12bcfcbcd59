#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace prune::client {

// "tenants/{tenant}/{collection}/{id}".
struct ResourceName {
  std::string tenant;
  std::string collection;
  std::string id;
};

// Parses a full resource name; `collection` is e.g. "jobs".
absl::StatusOr<ResourceName> ParseResourceName(absl::string_view name);

// Checks a command-line reference to a resource of `collection` ("models",
// "datasets", "jobs"): either a full resource name of that collection or a
// bare id / display name (no '/'), which the server resolves. Returns it
// unchanged when valid.
absl::StatusOr<std::string> CheckReference(absl::string_view reference,
                                           absl::string_view collection);

// The last segment of a resource name ("abc" for "tenants/t/jobs/abc"), or
// the reference itself when it is bare. Used to derive local file names.
std::string ShortName(absl::string_view reference);

}  // namespace prune::client
