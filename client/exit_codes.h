#pragma once

namespace prune::client {

// Process exit codes of prunectl; documented in client/README.md.
enum ExitCode : int {
  kExitOk = 0,
  // Any RPC or local error not covered below.
  kExitError = 1,
  // Bad command line: unknown flag, malformed --target / --input-shape / name.
  kExitUsage = 2,
  // The job ended FAILED.
  kExitJobFailed = 3,
  // The job ended CANCELLED.
  kExitJobCancelled = 4,
  // The server could not be reached or did not answer in time (UNAVAILABLE,
  // DEADLINE_EXCEEDED): retrying later may help.
  kExitUnavailable = 5,
};

}  // namespace prune::client
