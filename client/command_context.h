#pragma once

#include <iostream>
#include <memory>
#include <ostream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "connection.h"
#include "retry_policy.h"

namespace prune::client {

// What every command needs: global flags, where to print, and the server
// connection (made on first use, so usage errors never need a server).
class CommandContext {
 public:
  ConnectionOptions connection_options;
  bool json = false;
  std::ostream* out = &std::cout;
  std::ostream* err = &std::cerr;
  RetryPolicy retry;

  absl::StatusOr<Connection*> connection();

  // Prints "error: CODE: message" to `err` and returns the matching exit code.
  int ReportError(const absl::Status& status) const;
  // Prints "usage error: message" to `err` and returns kExitUsage.
  int ReportUsageError(const absl::Status& status) const;

 private:
  std::unique_ptr<Connection> connection_;
};

}  // namespace prune::client
