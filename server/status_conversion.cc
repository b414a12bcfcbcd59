#include "server/status_conversion.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace prune::server {

absl::string_view ReasonOf(absl::string_view message) {
  const size_t colon = message.find(':');
  if (colon == absl::string_view::npos || colon == 0) return {};
  const absl::string_view token = message.substr(0, colon);
  if (!absl::ascii_isupper(static_cast<unsigned char>(token.front()))) return {};
  for (char c : token) {
    if (!absl::ascii_isupper(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '_') {
      return {};
    }
  }
  return token;
}

bool HasReason(absl::string_view message) { return !ReasonOf(message).empty(); }

absl::string_view DefaultReason(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "OK";
    case absl::StatusCode::kCancelled:
      return "CANCELLED";
    case absl::StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kNotFound:
      return "NOT_FOUND";
    case absl::StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case absl::StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case absl::StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case absl::StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case absl::StatusCode::kAborted:
      return "ABORTED";
    case absl::StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case absl::StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case absl::StatusCode::kUnavailable:
      return "DATABASE_UNAVAILABLE";
    case absl::StatusCode::kDataLoss:
      return "DATA_LOSS";
    case absl::StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
    default:
      return "INTERNAL";
  }
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(static_cast<int>(status.code()));
  const absl::string_view message = status.message();
  if (HasReason(message)) return grpc::Status(code, std::string(message));
  return grpc::Status(code, absl::StrCat(DefaultReason(status.code()), ": ", message));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(static_cast<int>(status.error_code())),
                      status.error_message());
}

absl::Status RenameNotFound(const absl::Status& status, absl::string_view reason,
                            absl::string_view what, absl::string_view reference) {
  if (!absl::IsNotFound(status)) return status;
  return absl::NotFoundError(
      absl::StrCat(reason, ": no ", what, " '", reference, "' in this tenant"));
}

absl::Status AddReasonIfMissing(const absl::Status& status, absl::StatusCode code,
                                absl::string_view reason) {
  if (status.code() != code || HasReason(status.message())) return status;
  return absl::Status(code, absl::StrCat(reason, ": ", status.message()));
}

}  // namespace prune::server
