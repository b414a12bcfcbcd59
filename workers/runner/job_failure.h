// What a tenant reads when a job fails: `Job.error_reason`, always one of the
// documented domain reasons below (docs/ERRORS.md), and `Job.error`, a short
// text without stack frames, addresses or file paths. The full text goes to
// the worker's log under an error id that the short text quotes.
#pragma once

#include <string>
#include <vector>

namespace prune::worker {

struct FailureReason {
  const char* name;
  bool retryable;  // another attempt (on another worker) may succeed
  const char* meaning;
};

// Every reason a FAILED job can carry (LEASE_EXPIRED is written by the
// queue's reaper, the others by the worker).
const std::vector<FailureReason>& FailureReasons();

// The domain reason for an engine or sandbox status code: engine codes that
// name a gRPC-like category (INVALID_ARGUMENT, INTERNAL, ...) become
// JOB_SPEC_INVALID / ENGINE_ERROR; unknown codes become ENGINE_ERROR.
std::string DomainReason(const std::string& code);
bool IsRetryableReason(const std::string& reason);

// At most this many bytes of text before the error id.
constexpr size_t kMaxTenantErrorBytes = 900;

// `raw` cut down to what a tenant should read: for TorchScript interpreter
// errors the model's own exception line (and its line in the model's code);
// no C++ frames, "Exception raised from" lines, hex addresses or absolute
// paths (a path becomes its last component); whitespace collapsed; at most
// kMaxTenantErrorBytes.
std::string TenantErrorText(const std::string& raw);

// A fresh 12-hex-digit id for one failure.
std::string NewErrorId();

}  // namespace prune::worker
