#include "connection.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"

namespace prune::client {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS_CONFIG_INVALID: cannot read ", flag, " file ", path));
  }
  std::stringstream content;
  content << in.rdbuf();
  if (content.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS_CONFIG_INVALID: ", flag, " file ", path, " is not PEM"));
  }
  return content.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ConnectionOptions& options) {
  const ConnectionOptions::Tls& tls = options.tls;
  if (!tls.enabled()) return grpc::InsecureChannelCredentials();
  if (options.insecure) {
    return absl::InvalidArgumentError(
        "TLS_CONFIG_INVALID: --insecure contradicts --tls-ca/--tls-cert/--tls-key/"
        "--tls-server-name");
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError("TLS_CONFIG_INVALID: --tls-cert and --tls-key go together");
  }
  grpc::SslCredentialsOptions ssl;
  if (!tls.ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(tls.ca_file, "--tls-ca");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
  }
  if (!tls.cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPem(tls.cert_file, "--tls-cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem(tls.key_file, "--tls-key");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  return grpc::SslCredentials(ssl);
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Create(const ConnectionOptions& options) {
  if (options.server.empty()) return absl::InvalidArgumentError("empty server address");
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeChannelCredentials(options);
  if (!credentials.ok()) return credentials.status();
  grpc::ChannelArguments arguments;
  // For servers reached by an address their certificate does not name.
  if (!options.tls.server_name.empty()) {
    arguments.SetSslTargetNameOverride(options.tls.server_name);
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.server, *credentials, arguments);
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
