#include "server/rpc_log.h"

#include <iterator>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "server/status_conversion.h"

namespace prune::server {
namespace {

const char* CodeName(grpc::StatusCode code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < static_cast<int>(std::size(kNames)) ? kNames[index] : "UNKNOWN";
}

}  // namespace

grpc::Status RpcLog::Finish(grpc::Status status) const {
  const absl::Duration latency = absl::Now() - start_;
  const double latency_ms = absl::ToDoubleMilliseconds(latency);
  const char* code_name = CodeName(status.error_code());
  if (metrics_ != nullptr) {
    const std::string method(method_);
    metrics_->rpc_requests->WithLabels({method, code_name}).Increment();
    metrics_->rpc_duration->WithLabels({method}).Observe(absl::ToDoubleSeconds(latency));
  }
  const auto level = status.error_code() == grpc::StatusCode::INTERNAL ||
                             status.error_code() == grpc::StatusCode::UNKNOWN ||
                             status.error_code() == grpc::StatusCode::UNAVAILABLE
                         ? spdlog::level::warn
                         : spdlog::level::info;
  // error_message() returns a copy: keep it alive while `reason` views it.
  const std::string message = status.error_message();
  const absl::string_view reason = ReasonOf(message);
  spdlog::log(level, "rpc method={} code={} latency_ms={:.1f} reason={}",
              std::string_view(method_.data(), method_.size()), code_name, latency_ms,
              std::string_view(reason.data(), reason.size()));
  return status;
}

}  // namespace prune::server
