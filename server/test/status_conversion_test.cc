#include "server/status_conversion.h"

#include <gtest/gtest.h>

namespace prune::server {
namespace {

TEST(StatusConversion, CodesMapOneToOne) {
  for (int code = 0; code <= 16; ++code) {
    const absl::Status status(static_cast<absl::StatusCode>(code), "X: y");
    const grpc::Status converted = ToGrpcStatus(status);
    EXPECT_EQ(static_cast<int>(converted.error_code()), code);
    EXPECT_EQ(FromGrpcStatus(converted), status.ok() ? absl::OkStatus() : status);
  }
}

TEST(StatusConversion, KeepsAnExistingReason) {
  const grpc::Status s = ToGrpcStatus(absl::NotFoundError("MODEL_NOT_FOUND: no model 'x'"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "MODEL_NOT_FOUND: no model 'x'");
}

TEST(StatusConversion, AddsADefaultReason) {
  EXPECT_EQ(ToGrpcStatus(absl::UnavailableError("connection refused")).error_message(),
            "DATABASE_UNAVAILABLE: connection refused");
  EXPECT_EQ(ToGrpcStatus(absl::InternalError("boom: bad")).error_message(), "INTERNAL: boom: bad");
}

TEST(StatusConversion, ReasonTokens) {
  EXPECT_EQ(ReasonOf("SHA256_MISMATCH: x"), "SHA256_MISMATCH");
  EXPECT_EQ(ReasonOf("lower: x"), "");
  EXPECT_EQ(ReasonOf("Mixed_Case: x"), "");
  EXPECT_EQ(ReasonOf("no colon"), "");
  EXPECT_EQ(ReasonOf(": x"), "");
}

TEST(StatusConversion, RenameNotFoundAndAddReason) {
  EXPECT_EQ(RenameNotFound(absl::NotFoundError("no rows"), "JOB_NOT_FOUND", "job", "j1").message(),
            "JOB_NOT_FOUND: no job 'j1' in this tenant");
  EXPECT_EQ(RenameNotFound(absl::InternalError("x"), "JOB_NOT_FOUND", "job", "j1").code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(AddReasonIfMissing(absl::FailedPreconditionError("done"),
                               absl::StatusCode::kFailedPrecondition, "JOB_ALREADY_FINISHED")
                .message(),
            "JOB_ALREADY_FINISHED: done");
  EXPECT_EQ(AddReasonIfMissing(absl::FailedPreconditionError("JOB_DONE: done"),
                               absl::StatusCode::kFailedPrecondition, "JOB_ALREADY_FINISHED")
                .message(),
            "JOB_DONE: done");
}

}  // namespace
}  // namespace prune::server
