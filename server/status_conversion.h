// absl::Status <-> grpc::Status. Codes map 1:1 (both follow google.rpc.Code).
// Every message the API returns starts with a machine-readable REASON token.
#pragma once

#include <string>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace prune::server {

// True when `message` starts with "UPPER_SNAKE_CASE:".
bool HasReason(absl::string_view message);

// The reason token of a message ("MODEL_NOT_FOUND" of "MODEL_NOT_FOUND: ..."),
// empty when it has none.
absl::string_view ReasonOf(absl::string_view message);

// A reason for statuses that arrive without one (e.g. from libpq), derived from
// the code: UNAVAILABLE -> "DATABASE_UNAVAILABLE", INTERNAL -> "INTERNAL", ...
absl::string_view DefaultReason(absl::StatusCode code);

// Converts, prefixing DefaultReason() when the message has no reason yet.
grpc::Status ToGrpcStatus(const absl::Status& status);

absl::Status FromGrpcStatus(const grpc::Status& status);

// A NOT_FOUND status becomes "<reason>: no <what> '<reference>' in this
// tenant", whatever the store's wording; other statuses pass through.
absl::Status RenameNotFound(const absl::Status& status, absl::string_view reason,
                            absl::string_view what, absl::string_view reference);

// Prefixes `reason` to a status with `code` whose message has no reason yet.
absl::Status AddReasonIfMissing(const absl::Status& status, absl::StatusCode code,
                                absl::string_view reason);

}  // namespace prune::server
