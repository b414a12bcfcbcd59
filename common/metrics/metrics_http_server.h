// Serves a Registry over HTTP (civetweb): GET /metrics in text format 0.0.4
// and GET /healthz for liveness probes.
#ifndef PRUNE_COMMON_METRICS_METRICS_HTTP_SERVER_H_
#define PRUNE_COMMON_METRICS_METRICS_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/metrics/registry.h"

struct mg_connection;
struct mg_context;

namespace prune::metrics {

class MetricsHttpServer {
 public:
  struct Options {
    // Worker threads answering scrapes; one or two are plenty.
    int num_threads = 2;
    // /healthz answers 200 "ok" when this returns OK (or is unset) and 503
    // with the status message otherwise.
    std::function<absl::Status()> health_check;
  };

  // Starts listening on `listen_address`: "127.0.0.1:0", "0.0.0.0:9090",
  // ":9090" or "9090" (all interfaces). Port 0 picks a free port; read it back
  // with port(). `registry` must outlive the server.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const Registry& registry,
                                                                  absl::string_view listen_address,
                                                                  Options options);
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const Registry& registry, absl::string_view listen_address) {
    return Start(registry, listen_address, Options());
  }

  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // The port actually bound.
  int port() const { return port_; }

  // Stops accepting, waits for in-flight requests and joins the threads.
  // Idempotent; the destructor calls it.
  void Stop();

 private:
  MetricsHttpServer(const Registry& registry, Options options);

  static int HandleMetrics(mg_connection* connection, void* self);
  static int HandleHealth(mg_connection* connection, void* self);

  const Registry& registry_;
  const Options options_;
  mg_context* context_ = nullptr;
  int port_ = 0;
  std::string wake_host_;  // where Stop() connects to wake the accept loop
};

}  // namespace prune::metrics

#endif  // PRUNE_COMMON_METRICS_METRICS_HTTP_SERVER_H_
