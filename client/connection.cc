#include "connection.h"

#include <utility>

namespace prune::client {

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ConnectionOptions& options) {
  if (options.insecure) return grpc::InsecureChannelCredentials();
  return absl::UnimplementedError("TLS is not supported by prunectl yet; use --insecure");
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Create(const ConnectionOptions& options) {
  if (options.server.empty()) return absl::InvalidArgumentError("empty server address");
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeChannelCredentials(options);
  if (!credentials.ok()) return credentials.status();
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(options.server, *credentials);
  return std::make_unique<Connection>(options, prune::v1::PruneService::NewStub(channel));
}

Connection::Connection(ConnectionOptions options,
                       std::unique_ptr<prune::v1::PruneService::StubInterface> stub)
    : options_(std::move(options)), stub_(std::move(stub)) {}

std::unique_ptr<grpc::ClientContext> Connection::NewContext(CallKind kind) const {
  auto context = std::make_unique<grpc::ClientContext>();
  std::chrono::milliseconds timeout = options_.unary_timeout;
  if (kind == CallKind::kTransfer) timeout = options_.transfer_timeout;
  if (kind == CallKind::kWatch) timeout = options_.watch_timeout;
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  if (!options_.token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options_.token);
  }
  return context;
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace prune::client
