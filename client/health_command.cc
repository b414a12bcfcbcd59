#include "health_command.h"

#include <future>
#include <memory>

#include <grpcpp/generic/generic_stub.h>

#include "absl/strings/str_cat.h"
#include "exit_codes.h"

namespace prune::client {
namespace {

constexpr char kCheckMethod[] = "/grpc.health.v1.Health/Check";
constexpr char kPruneService[] = "prune.v1.PruneService";

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

}  // namespace

std::string EncodeHealthCheckRequest(const std::string& service) {
  std::string out;
  if (service.empty()) return out;  // proto3 leaves default fields out
  out.push_back(0x0a);              // field 1, length-delimited
  AppendVarint(service.size(), &out);
  out += service;
  return out;
}

absl::StatusOr<std::string> DecodeHealthCheckStatus(const std::string& bytes) {
  static const char* const kNames[] = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};
  if (bytes.empty()) return std::string(kNames[0]);  // status 0 is not sent
  // The response has one field: status = 1 (varint), tag byte 0x08.
  if (bytes.size() < 2 || bytes[0] != 0x08) {
    return absl::InvalidArgumentError("not a grpc.health.v1.HealthCheckResponse");
  }
  const auto status = static_cast<unsigned char>(bytes[1]);
  if (bytes.size() != 2 || status >= 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected grpc.health.v1.HealthCheckResponse (", bytes.size(), " bytes)"));
  }
  return std::string(kNames[status]);
}

absl::StatusOr<std::string> CheckHealth(const ConnectionOptions& options,
                                        const std::string& service) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeChannelCredentials(options);
  if (!credentials.ok()) return credentials.status();
  grpc::GenericStub stub(grpc::CreateChannel(options.server, *credentials));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options.unary_timeout);
  const std::string request_bytes = EncodeHealthCheckRequest(service);
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, kCheckMethod, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  const grpc::Status status = done.get_future().get();
  if (!status.ok()) return FromGrpc(status);
  grpc::Slice reply;
  if (grpc::Status dumped = response.DumpToSingleSlice(&reply); !dumped.ok()) {
    return FromGrpc(dumped);
  }
  return DecodeHealthCheckStatus(
      std::string(reinterpret_cast<const char*>(reply.begin()), reply.size()));
}

void AddHealthCommand(CLI::App& app, CommandContext& context, int& exit_code) {
  auto service = std::make_shared<std::string>(kPruneService);
  CLI::App* health = app.add_subcommand(
      "health",
      "Readiness of the server (grpc.health.v1): prints SERVING or NOT_SERVING; exit 0 only "
      "when SERVING. NOT_SERVING while draining or while its database is unreachable");
  health
      ->add_option("--service", *service,
                   "Service to check; \"\" checks the process as a whole (liveness)")
      ->capture_default_str();
  health->callback([&context, &exit_code, service] {
    absl::StatusOr<std::string> state = CheckHealth(context.connection_options, *service);
    if (!state.ok()) {
      exit_code = context.ReportError(state.status());
      return;
    }
    *context.out << *state << "\n";
    exit_code = *state == "SERVING" ? kExitOk : kExitError;
  });
}

}  // namespace prune::client
