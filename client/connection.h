#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "prune/v1/service.grpc.pb.h"

namespace prune::client {

struct ConnectionOptions {
  std::string server = "localhost:50051";
  // Sent as "authorization: Bearer <token>" when not empty.
  std::string token;
  // Plaintext. TLS options (CA bundle, client certificate) belong next to this
  // flag; MakeChannelCredentials is the one place that reads them.
  bool insecure = true;
  std::chrono::milliseconds unary_timeout{std::chrono::seconds(30)};
  // Uploads and downloads.
  std::chrono::milliseconds transfer_timeout{std::chrono::hours(1)};
  // One WatchJob stream; a watch reconnects after UNAVAILABLE.
  std::chrono::milliseconds watch_timeout{std::chrono::hours(24)};
};

enum class CallKind { kUnary, kTransfer, kWatch };

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ConnectionOptions& options);

// A channel + stub to one server, and the per-call settings (deadline, token).
class Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Create(const ConnectionOptions& options);

  Connection(ConnectionOptions options,
             std::unique_ptr<prune::v1::PruneService::StubInterface> stub);

  prune::v1::PruneService::StubInterface& stub() { return *stub_; }
  const ConnectionOptions& options() const { return options_; }

  // A fresh context for one call: deadline by kind, bearer token if any.
  std::unique_ptr<grpc::ClientContext> NewContext(CallKind kind) const;

 private:
  ConnectionOptions options_;
  std::unique_ptr<prune::v1::PruneService::StubInterface> stub_;
};

// gRPC and absl share the canonical code numbering.
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace prune::client
