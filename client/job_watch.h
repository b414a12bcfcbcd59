#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "connection.h"
#include "prune/v1/resources.pb.h"
#include "retry_policy.h"

namespace prune::client {

// Follows WatchJob until the job reaches a terminal state, calling `on_event`
// once per event in sequence order. When the stream breaks with UNAVAILABLE
// (or ends before a terminal event) it reconnects with after_sequence = the
// last sequence seen, backing off per `policy`; the retry budget refills
// whenever events arrive. Returns the terminal state, or the error that ended
// the watch.
absl::StatusOr<prune::v1::Job::State> WatchJobUntilDone(
    Connection& connection, const std::string& job, const RetryPolicy& policy,
    const std::function<void(const prune::v1::JobEvent&)>& on_event);

}  // namespace prune::client
