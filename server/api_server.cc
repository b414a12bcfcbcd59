#include "server/api_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/upload_handler.h"

namespace prune::server {
namespace {

constexpr char kServiceName[] = "prune.v1.PruneService";
// A full upload chunk plus the message framing around it.
constexpr int kMaxReceiveMessageBytes = kMaxChunkBytes + (64 << 10);

}  // namespace

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(const ApiServerOptions& options,
                                                            db::MetadataStore* store,
                                                            db::BlobStore* blobs,
                                                            const Authenticator* authenticator) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(options.tls);
  if (!credentials.ok()) return credentials.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  std::unique_ptr<ApiServer> server(new ApiServer(
      std::make_unique<PruneServiceImpl>(store, blobs, authenticator, options.service)));

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, *credentials, &server->port_);
  builder.RegisterService(server->service_.get());
  builder.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("LISTEN_FAILED: cannot listen on ", options.listen_address));
  }
  server->server_->GetHealthCheckService()->SetServingStatus(kServiceName, true);
  spdlog::info("serving prune.v1.PruneService on port {} ({})", server->port_,
               !options.tls.enabled()               ? "plaintext"
               : options.tls.client_ca_file.empty() ? "TLS"
                                                    : "mutual TLS: client certificates required");
  return server;
}

ApiServer::~ApiServer() { Shutdown(absl::ZeroDuration()); }

void ApiServer::SetDatabaseReachable(bool reachable) {
  std::lock_guard<std::mutex> lock(mu_);
  database_reachable_ = reachable;
  UpdateReadiness();
}

void ApiServer::UpdateReadiness() {
  if (server_ == nullptr || draining_) return;  // draining set everything NOT_SERVING
  server_->GetHealthCheckService()->SetServingStatus(kServiceName, database_reachable_);
}

void ApiServer::StartDraining() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_ || server_ == nullptr) return;
    draining_ = true;
    spdlog::info("draining: health NOT_SERVING, ending watch streams");
    server_->GetHealthCheckService()->SetServingStatus(false);
  }
  service_->StartDraining();
}

void ApiServer::Shutdown(absl::Duration grace) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_ || server_ == nullptr) return;
    shut_down_ = true;
  }
  StartDraining();
  spdlog::info("shutting down, in-flight calls get {}", absl::FormatDuration(grace));
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  spdlog::info("server stopped");
}

}  // namespace prune::server
