// prunectl health against a real gRPC server (loopback, grpc++'s own health
// service next to a fake PruneService), plus the hand-made wire encoding.
#include "health_command.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <gtest/gtest.h>

#include "fake_prune_service.h"

namespace prune::client {
namespace {

TEST(HealthWire, EncodesTheServiceName) {
  EXPECT_EQ(EncodeHealthCheckRequest(""), "");
  EXPECT_EQ(EncodeHealthCheckRequest("ab"), std::string("\x0a\x02"
                                                        "ab",
                                                        4));
  const std::string long_name(200, 'x');  // a two-byte length varint
  EXPECT_EQ(EncodeHealthCheckRequest(long_name).substr(0, 3), std::string("\x0a\xc8\x01", 3));
}

TEST(HealthWire, DecodesStatuses) {
  EXPECT_EQ(*DecodeHealthCheckStatus(""), "UNKNOWN");
  EXPECT_EQ(*DecodeHealthCheckStatus(std::string("\x08\x01", 2)), "SERVING");
  EXPECT_EQ(*DecodeHealthCheckStatus(std::string("\x08\x02", 2)), "NOT_SERVING");
  EXPECT_FALSE(DecodeHealthCheckStatus(std::string("\x08\x07", 2)).ok());
  EXPECT_FALSE(DecodeHealthCheckStatus("garbage").ok());
}

TEST(HealthCheck, AsksARealServer) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  FakePruneService service;  // a server needs one synchronous service
  builder.RegisterService(&service);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  server->GetHealthCheckService()->SetServingStatus("prune.v1.PruneService", false);

  ConnectionOptions options;
  options.server = "127.0.0.1:" + std::to_string(port);
  absl::StatusOr<std::string> overall = CheckHealth(options, "");
  ASSERT_TRUE(overall.ok()) << overall.status();
  EXPECT_EQ(*overall, "SERVING");
  absl::StatusOr<std::string> prune = CheckHealth(options, "prune.v1.PruneService");
  ASSERT_TRUE(prune.ok()) << prune.status();
  EXPECT_EQ(*prune, "NOT_SERVING");
  server->GetHealthCheckService()->SetServingStatus("prune.v1.PruneService", true);
  EXPECT_EQ(*CheckHealth(options, "prune.v1.PruneService"), "SERVING");
  EXPECT_EQ(CheckHealth(options, "no.such.Service").status().code(), absl::StatusCode::kNotFound);
  server->Shutdown();
}

}  // namespace
}  // namespace prune::client
