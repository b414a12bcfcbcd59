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
  // --insecure: plaintext, said explicitly. Plaintext is also what an empty
  // `tls` means; both at once is a usage error.
  bool insecure = false;
  // TLS as soon as one is set. MakeChannelCredentials is the one place that
  // reads the files.
  struct Tls {
    std::string ca_file;    // PEM CA bundle for the server; empty: system roots
    std::string cert_file;  // PEM client certificate (mutual TLS), with key_file
    std::string key_file;
    std::string server_name;  // expected name in the server certificate
    bool enabled() const {
      return !ca_file.empty() || !cert_file.empty() || !key_file.empty() || !server_name.empty();
    }
  } tls;
  std::chrono::milliseconds unary_timeout{std::chrono::seconds(30)};
  // Uploads and downloads.
  std::chrono::milliseconds transfer_timeout{std::chrono::hours(1)};
  // One WatchJob stream; a watch reconnects after UNAVAILABLE.
  std::chrono::milliseconds watch_timeout{std::chrono::hours(24)};
};

enum class CallKind { kUnary, kTransfer, kWatch };

// Plaintext, or TLS from the PEM files of options.tls. INVALID_ARGUMENT
// "TLS_CONFIG_INVALID: ..." for contradictions and unreadable files.
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
