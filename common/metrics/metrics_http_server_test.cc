#include "common/metrics/metrics_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/metrics/promtool_check.h"
#include "common/metrics/service_metrics.h"
#include "common/metrics/text_format.h"
#include "gtest/gtest.h"

namespace prune::metrics {
namespace {

struct HttpResponse {
  int status = 0;
  std::string headers;  // lower-cased
  std::string body;
};

// A deliberately tiny HTTP/1.0 client: the point is to scrape over a real
// loopback socket, exactly as Prometheus does.
absl::StatusOr<HttpResponse> HttpRequest(int port, const std::string& method,
                                         const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("connect to port ", port, " failed"));
  }
  const std::string request =
      absl::StrCat(method, " ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  if (send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return absl::InternalError("send");
  }
  std::string raw;
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) raw.append(buffer, n);
  close(fd);
  const size_t header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos || raw.size() < 12) {
    return absl::DataLossError(absl::StrCat("bad response: ", raw));
  }
  HttpResponse response;
  response.status = std::stoi(raw.substr(9, 3));  // "HTTP/1.x NNN"
  response.headers = absl::AsciiStrToLower(raw.substr(0, header_end));
  response.body = raw.substr(header_end + 4);
  return response;
}

TEST(MetricsHttpServerTest, ServesMetricsOnAPickedPortAndPassesPromtool) {
  Registry registry;
  ServerMetrics server_metrics = *ServerMetrics::Create(registry);
  WorkerMetrics worker_metrics = *WorkerMetrics::Create(registry);
  server_metrics.rpc_requests->WithLabels({"CreateJob", "OK"}).Increment();
  server_metrics.rpc_requests->WithLabels({"GetJob", "NOT_FOUND"}).Increment(3);
  server_metrics.rpc_duration->WithLabels({"CreateJob"}).Observe(0.012);
  server_metrics.upload_bytes->WithLabels({"model"}).Increment(1 << 20);
  server_metrics.jobs_created->WithLabels({"amc"}).Increment();
  server_metrics.jobs->SetCallback([] {
    return std::vector<Sample>{{{"QUEUED"}, 4}, {{"RUNNING"}, 1}};
  });
  worker_metrics.job_queue_wait->Observe(12.5);
  worker_metrics.job_duration->WithLabels({"succeeded"}).Observe(5400);
  worker_metrics.job_attempts->Increment();
  worker_metrics.busy->Set(1);
  worker_metrics.evaluations->Increment(20);
  worker_metrics.evaluation_duration->Observe(0.8);
  worker_metrics.search_episodes->Increment(4);
  worker_metrics.best_accuracy->Set(0.9125);

  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      MetricsHttpServer::Start(registry, "127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);

  absl::StatusOr<HttpResponse> response = HttpRequest((*server)->port(), "GET", "/metrics");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(absl::StrContains(response->headers,
                                "content-type: text/plain; version=0.0.4; charset=utf-8"))
      << response->headers;
  EXPECT_TRUE(absl::StrContains(response->headers,
                                absl::StrCat("content-length: ", response->body.size())));
  EXPECT_EQ(response->body, FormatText(registry));
  EXPECT_TRUE(absl::StrContains(response->body, "prune_jobs{state=\"QUEUED\"} 4\n"));
  EXPECT_TRUE(absl::StrContains(
      response->body, "prune_rpc_requests_total{method=\"GetJob\",code=\"NOT_FOUND\"} 3\n"));
  EXPECT_TRUE(absl::StrContains(
      response->body, "prune_job_duration_seconds_bucket{outcome=\"succeeded\",le=\"7200\"} 1\n"));

  if (testing::PromtoolPath().empty()) {
    testing::PrintLoudPromtoolMissing();
    GTEST_SKIP() << "promtool not installed; HTTP part passed";
  }
  const testing::PromtoolResult promtool = testing::RunPromtoolCheckMetrics(response->body);
  EXPECT_EQ(promtool.exit_code, 0) << promtool.output << "\n--- scraped text ---\n"
                                   << response->body;
  EXPECT_EQ(promtool.output, "") << "promtool reported problems:\n" << promtool.output;
}

TEST(MetricsHttpServerTest, HealthzAndErrors) {
  Registry registry;
  std::atomic<bool> healthy{true};
  MetricsHttpServer::Options options;
  options.health_check = [&healthy] {
    return healthy ? absl::OkStatus() : absl::UnavailableError("database down");
  };
  std::unique_ptr<MetricsHttpServer> server =
      *MetricsHttpServer::Start(registry, "127.0.0.1:0", options);

  absl::StatusOr<HttpResponse> health = HttpRequest(server->port(), "GET", "/healthz");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");

  healthy = false;
  health = HttpRequest(server->port(), "GET", "/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 503);
  EXPECT_TRUE(absl::StrContains(health->body, "database down"));

  absl::StatusOr<HttpResponse> head = HttpRequest(server->port(), "HEAD", "/metrics");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");

  absl::StatusOr<HttpResponse> post = HttpRequest(server->port(), "POST", "/metrics");
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(post->status, 405);

  absl::StatusOr<HttpResponse> missing = HttpRequest(server->port(), "GET", "/metricsfoo");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  missing = HttpRequest(server->port(), "GET", "/");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
}

TEST(MetricsHttpServerTest, StopClosesThePortAndBusyPortIsAnError) {
  Registry registry;
  std::unique_ptr<MetricsHttpServer> server = *MetricsHttpServer::Start(registry, "127.0.0.1:0");
  const int port = server->port();

  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> second =
      MetricsHttpServer::Start(registry, absl::StrCat("127.0.0.1:", port));
  EXPECT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();

  server->Stop();
  server->Stop();  // idempotent
  EXPECT_FALSE(HttpRequest(port, "GET", "/metrics").ok());

  EXPECT_FALSE(MetricsHttpServer::Start(registry, "").ok());
  EXPECT_FALSE(MetricsHttpServer::Start(registry, "not-an-address").ok());
}

TEST(MetricsHttpServerTest, ConcurrentScrapesWhileRecording) {
  Registry registry;
  Counter& counter = (*registry.AddCounter("prune_test_events_total", "Events."))->WithLabels({});
  std::unique_ptr<MetricsHttpServer> server = *MetricsHttpServer::Start(registry, "127.0.0.1:0");
  std::atomic<bool> done{false};
  std::thread writer([&] {
    while (!done) counter.Increment();
  });
  std::vector<std::thread> scrapers;
  std::atomic<int> ok_scrapes{0};
  for (int i = 0; i < 4; ++i) {
    scrapers.emplace_back([&] {
      for (int j = 0; j < 10; ++j) {
        absl::StatusOr<HttpResponse> r = HttpRequest(server->port(), "GET", "/metrics");
        if (r.ok() && r->status == 200 && absl::StrContains(r->body, "prune_test_events_total ")) {
          ++ok_scrapes;
        }
      }
    });
  }
  for (std::thread& t : scrapers) t.join();
  done = true;
  writer.join();
  EXPECT_EQ(ok_scrapes, 40);
}

}  // namespace
}  // namespace prune::metrics
