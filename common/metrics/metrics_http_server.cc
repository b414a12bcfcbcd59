#include "common/metrics/metrics_http_server.h"

#include <civetweb.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/memory/memory.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/metrics/text_format.h"

namespace prune::metrics {
namespace {

// civetweb wants "9090" or "host:port"; accept the gRPC-style ":9090" too.
std::string ToCivetwebPorts(absl::string_view address) {
  if (absl::StartsWith(address, ":")) address.remove_prefix(1);
  return std::string(address);
}

// The host to connect to when waking our own accept loop.
std::string LoopbackHostFor(absl::string_view address) {
  const size_t colon = address.rfind(':');
  absl::string_view host = colon == absl::string_view::npos ? "" : address.substr(0, colon);
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
    return host.empty() || host == "::" ? "::1" : std::string(host);
  }
  return host.empty() || host == "0.0.0.0" ? "127.0.0.1" : std::string(host);
}

// Opens and closes one connection to host:port, ignoring every error.
void PokeListener(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* result = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &result) != 0) return;
  const int fd = socket(result->ai_family, result->ai_socktype | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    (void)connect(fd, result->ai_addr, result->ai_addrlen);
    close(fd);
  }
  freeaddrinfo(result);
}

bool IsGetOrHead(const mg_request_info* request, bool* head) {
  *head = std::strcmp(request->request_method, "HEAD") == 0;
  return *head || std::strcmp(request->request_method, "GET") == 0;
}

int SendResponse(mg_connection* connection, int status, absl::string_view content_type,
                 absl::string_view body, bool head) {
  const std::string length = absl::StrCat(body.size());
  mg_response_header_start(connection, status);
  mg_response_header_add(connection, "Content-Type", content_type.data(),
                         static_cast<int>(content_type.size()));
  mg_response_header_add(connection, "Content-Length", length.c_str(), -1);
  mg_response_header_add(connection, "Cache-Control", "no-store", -1);
  if (status == 405) mg_response_header_add(connection, "Allow", "GET, HEAD", -1);
  {
    // civetweb formats the Date header with the non-reentrant gmtime(); TSan
    // flags concurrent scrapes. Serializing the header write is cheap.
    static std::mutex header_mutex;
    std::lock_guard<std::mutex> lock(header_mutex);
    mg_response_header_send(connection);
  }
  if (!head && !body.empty()) mg_write(connection, body.data(), body.size());
  return status;
}

int SendMethodNotAllowed(mg_connection* connection) {
  return SendResponse(connection, 405, "text/plain; charset=utf-8", "method not allowed\n",
                      /*head=*/false);
}

}  // namespace

MetricsHttpServer::MetricsHttpServer(const Registry& registry, Options options)
    : registry_(registry), options_(std::move(options)) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const Registry& registry, absl::string_view listen_address, Options options) {
  if (listen_address.empty()) return absl::InvalidArgumentError("empty metrics listen address");
  if (options.num_threads < 1) {
    return absl::InvalidArgumentError("metrics server needs at least one thread");
  }
  static std::once_flag init_once;
  std::call_once(init_once, [] { mg_init_library(0); });

  auto server = absl::WrapUnique(new MetricsHttpServer(registry, std::move(options)));
  const std::string ports = ToCivetwebPorts(listen_address);
  const std::string threads = absl::StrCat(server->options_.num_threads);
  // clang-format off
  const char* config[] = {
      "listening_ports",    ports.c_str(),
      "num_threads",        threads.c_str(),
      "request_timeout_ms", "10000",
      "enable_keep_alive",  "no",
      nullptr};
  // clang-format on
  mg_callbacks callbacks{};
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = server.get();
  init.configuration_options = config;
  char error_text[256] = {};
  unsigned error_code = 0;
  mg_error_data error{};
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof(error_text);

  server->context_ = mg_start2(&init, &error);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("metrics server cannot listen on '", listen_address, "': ", error_text));
  }
  // "$" anchors the pattern: /metrics/foo is a 404, not a scrape.
  mg_set_request_handler(server->context_, "/metrics$", &MetricsHttpServer::HandleMetrics,
                         server.get());
  mg_set_request_handler(server->context_, "/healthz$", &MetricsHttpServer::HandleHealth,
                         server.get());

  std::vector<mg_server_port> bound(4);
  const int count =
      mg_get_server_ports(server->context_, static_cast<int>(bound.size()), bound.data());
  if (count < 1 || bound[0].port <= 0) {
    return absl::InternalError(
        absl::StrCat("metrics server started on '", listen_address, "' but reports no port"));
  }
  server->port_ = bound[0].port;
  server->wake_host_ = LoopbackHostFor(listen_address);
  return server;
}

void MetricsHttpServer::Stop() {
  if (context_ == nullptr) return;
  // civetweb's accept loop only notices mg_stop() when its poll() times out
  // (2 s); a connection to our own port wakes it at once. Connections that
  // arrive before the stop flag is set see an immediate EOF and are dropped.
  std::atomic<bool> stopped{false};
  std::thread waker([this, &stopped] {
    while (!stopped.load()) {
      PokeListener(wake_host_, port_);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  mg_stop(context_);
  stopped = true;
  waker.join();
  context_ = nullptr;
}

int MetricsHttpServer::HandleMetrics(mg_connection* connection, void* self) {
  const auto* server = static_cast<const MetricsHttpServer*>(self);
  bool head = false;
  if (!IsGetOrHead(mg_get_request_info(connection), &head)) {
    return SendMethodNotAllowed(connection);
  }
  return SendResponse(connection, 200, kTextFormatContentType, FormatText(server->registry_), head);
}

int MetricsHttpServer::HandleHealth(mg_connection* connection, void* self) {
  const auto* server = static_cast<const MetricsHttpServer*>(self);
  bool head = false;
  if (!IsGetOrHead(mg_get_request_info(connection), &head)) {
    return SendMethodNotAllowed(connection);
  }
  absl::Status health =
      server->options_.health_check ? server->options_.health_check() : absl::OkStatus();
  if (health.ok()) return SendResponse(connection, 200, "text/plain; charset=utf-8", "ok\n", head);
  return SendResponse(connection, 503, "text/plain; charset=utf-8",
                      absl::StrCat(health.ToString(), "\n"), head);
}

}  // namespace prune::metrics
