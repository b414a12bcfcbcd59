// One log line per RPC: method, status code, latency and the reason token;
// with ServerMetrics also prune_rpc_requests_total{method,code} and
// prune_rpc_duration_seconds{method}.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/metrics/service_metrics.h"

namespace prune::server {

class RpcLog {
 public:
  // `method` is the short RPC name ("CreateJob"); `metrics` may be null.
  explicit RpcLog(absl::string_view method, const metrics::ServerMetrics* metrics = nullptr)
      : method_(method), metrics_(metrics), start_(absl::Now()) {}
  // Logs, records the metrics and passes `status` through.
  grpc::Status Finish(grpc::Status status) const;

 private:
  absl::string_view method_;
  const metrics::ServerMetrics* metrics_;
  absl::Time start_;
};

}  // namespace prune::server
