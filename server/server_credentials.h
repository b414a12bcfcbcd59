// Transport security of the gRPC port: plaintext, TLS, or mutual TLS. The
// metrics port stays plaintext HTTP (it carries no tenant data).
#pragma once

#include <memory>
#include <string>

#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"

namespace prune::server {

struct ServerTlsOptions {
  std::string cert_file;  // PEM certificate chain of the server
  std::string key_file;   // PEM private key of cert_file
  // PEM CA bundle: when set, clients must present a certificate it signed.
  std::string client_ca_file;

  bool enabled() const {
    return !cert_file.empty() || !key_file.empty() || !client_ca_file.empty();
  }
};

// Insecure credentials when no TLS option is set; otherwise TLS from the PEM
// files, requiring and verifying client certificates when client_ca_file is
// set. INVALID_ARGUMENT "TLS_CONFIG_INVALID: ..." for half a configuration or
// a file that is not PEM.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsOptions& options);

// The whole content of a PEM file, or INVALID_ARGUMENT "TLS_CONFIG_INVALID".
absl::StatusOr<std::string> ReadPemFile(const std::string& path, const char* what);

}  // namespace prune::server
