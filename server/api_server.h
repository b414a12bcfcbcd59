// The gRPC server of pruned: PruneService, grpc.health.v1.Health and server
// reflection on one port.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/server.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/prune_service.h"
#include "server/server_credentials.h"

namespace prune::server {

struct ApiServerOptions {
  std::string listen_address = "0.0.0.0:50051";  // port 0 picks a free port
  ServerTlsOptions tls;                          // none set: plaintext
  PruneServiceOptions service;
};

class ApiServer {
 public:
  // Starts serving. The pointers must outlive the server.
  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(const ApiServerOptions& options,
                                                          db::MetadataStore* store,
                                                          db::BlobStore* blobs,
                                                          const Authenticator* authenticator);
  ~ApiServer();

  int port() const { return port_; }
  // Readiness: the health status of "prune.v1.PruneService" is SERVING only
  // while the database answers and the server is not draining. The overall
  // status ("", for liveness probes) ignores the database: restarting a
  // server does not bring its database back. Thread-safe.
  void SetDatabaseReachable(bool reachable);
  // Health turns NOT_SERVING and watch streams end; other calls are still
  // served, so load balancers can notice before the port closes.
  void StartDraining();
  // Drains, stops accepting calls and cancels those still running after
  // `grace`. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  ApiServer(std::unique_ptr<PruneServiceImpl> service) : service_(std::move(service)) {}

  std::unique_ptr<PruneServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  void UpdateReadiness();  // with mu_ held

  int port_ = 0;
  std::mutex mu_;  // guards the three flags below
  bool database_reachable_ = true;
  bool draining_ = false;
  bool shut_down_ = false;
};

}  // namespace prune::server
