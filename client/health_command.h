// `prunectl health`: asks the server's grpc.health.v1.Health service, the
// same check Kubernetes' gRPC probes make. A hand-encoded request over a
// generic stub: the health messages are two fields, not worth a proto copy.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "absl/status/statusor.h"
#include "command_context.h"

namespace prune::client {

// grpc.health.v1.HealthCheckRequest{service = 1} on the wire.
std::string EncodeHealthCheckRequest(const std::string& service);
// The status name of a grpc.health.v1.HealthCheckResponse{status = 1}:
// "UNKNOWN", "SERVING", "NOT_SERVING" or "SERVICE_UNKNOWN". INVALID_ARGUMENT
// for bytes that are not such a response.
absl::StatusOr<std::string> DecodeHealthCheckStatus(const std::string& bytes);

// Health/Check of `service` ("" = the server as a whole).
absl::StatusOr<std::string> CheckHealth(const ConnectionOptions& options,
                                        const std::string& service);

void AddHealthCommand(CLI::App& app, CommandContext& context, int& exit_code);

}  // namespace prune::client
