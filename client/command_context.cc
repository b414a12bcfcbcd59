#include "command_context.h"

#include "exit_codes.h"

namespace prune::client {

absl::StatusOr<Connection*> CommandContext::connection() {
  if (!connection_) {
    absl::StatusOr<std::unique_ptr<Connection>> created = Connection::Create(connection_options);
    if (!created.ok()) return created.status();
    connection_ = std::move(*created);
  }
  return connection_.get();
}

int CommandContext::ReportError(const absl::Status& status) const {
  *err << "error: " << absl::StatusCodeToString(status.code()) << ": " << status.message() << '\n';
  if (status.code() == absl::StatusCode::kUnavailable ||
      status.code() == absl::StatusCode::kDeadlineExceeded) {
    return kExitUnavailable;
  }
  return kExitError;
}

int CommandContext::ReportUsageError(const absl::Status& status) const {
  *err << "usage error: " << status.message() << '\n';
  return kExitUsage;
}

}  // namespace prune::client
