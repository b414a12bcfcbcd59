// prune-worker: claims pruning jobs from the Postgres queue and runs them with
// the LibTorch engine. Any number of workers may run against one database.
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/db/blob_store.h"
#include "common/db/connection_pool.h"
#include "common/db/job_queue.h"
#include "common/log/logging.h"
#include "common/metrics/metrics_http_server.h"
#include "common/metrics/registry.h"
#include "common/metrics/service_metrics.h"
#include "spdlog/spdlog.h"
#include "workers/runner/job_executor.h"
#include "workers/runner/process_restart.h"
#include "workers/runner/prune_runner.h"
#include "workers/runner/sandboxed_prune_runner.h"
#include "workers/runner/worker_loop.h"

// Debian's civetweb (the /metrics server) starts its threads with a fixed
// 100 KiB stack (pthread_attr_setstacksize(attr, 0x19000)). glibc rejects a
// stack that cannot hold the process's static TLS with EINVAL, and LibTorch's
// dependencies (OpenBLAS 60 KiB, glog 30 KiB, ...) need more than that, so
// in this process civetweb failed with "Cannot create first worker thread".
// This definition interposes on libc's for the shared libraries (exported by
// the link option in CMakeLists.txt) and raises small requests to 1 MiB.
extern "C" int pthread_attr_setstacksize(pthread_attr_t* attr, size_t stack_size) {
  using SetStackSize = int (*)(pthread_attr_t*, size_t);
  static const SetStackSize libc_set_stack_size =
      reinterpret_cast<SetStackSize>(dlsym(RTLD_NEXT, "pthread_attr_setstacksize"));
  constexpr size_t kMinStackBytes = size_t{1} << 20;
  if (libc_set_stack_size == nullptr) return EINVAL;
  return libc_set_stack_size(attr, stack_size < kMinStackBytes ? kMinStackBytes : stack_size);
}

namespace {

std::string EnvOr(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : std::move(fallback);
}

std::string DefaultWorkerId() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return absl::StrCat(host, "-", getpid());
}

// pruned's /metrics defaults to :9090; the worker's must differ so both run
// on one machine. More workers on one machine need --metrics-listen each
// (or port 0).
constexpr char kDefaultMetricsListen[] = ":9091";

bool MetricsDisabled(const std::string& address) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(address));
  return lower.empty() || lower == "off" || lower == "none";
}

// The host part of a listen address for the log line ("" -> 0.0.0.0).
std::string ListenHost(const std::string& address) {
  const size_t colon = address.rfind(':');
  std::string host = colon == std::string::npos ? "" : address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host.empty() ? "0.0.0.0" : host;
}

}  // namespace

int main(int argc, char** argv) {
  prune::worker::WorkerOptions options;
  options.database_url = EnvOr("PRUNE_DATABASE_URL", "");
  options.worker_id = EnvOr("PRUNE_WORKER_ID", DefaultWorkerId());
  options.work_dir = EnvOr("PRUNE_WORK_DIR", (std::filesystem::temp_directory_path() / "prune-worker").string());
  options.device = EnvOr("PRUNE_DEVICE", "auto");
  std::string metrics_listen = EnvOr("PRUNE_METRICS_LISTEN", kDefaultMetricsListen);
  // An address given by flag or environment must be bound; the built-in
  // default only warns when its port is taken.
  bool metrics_required = metrics_listen != kDefaultMetricsListen;
  double lease_ttl_s = 60, heartbeat_s = 15, poll_s = 2, reap_s = 10;
  double stuck_grace_s = absl::ToDoubleSeconds(options.stuck_grace);

  CLI::App app{"prune-worker: runs pruning jobs from the prune-service queue"};
  app.add_option("--database-url", options.database_url,
                 "PostgreSQL URL (env PRUNE_DATABASE_URL)");
  app.add_option("--worker-id", options.worker_id, "Unique worker name (env PRUNE_WORKER_ID)");
  app.add_option("--work-dir", options.work_dir, "Scratch folder (env PRUNE_WORK_DIR)");
  options.latency_table_cache_dir = EnvOr("PRUNE_LATENCY_TABLE_CACHE", "");
  app.add_option("--latency-table-cache", options.latency_table_cache_dir,
                 "Folder of cached per-layer latency tables for LATENCY targets; default "
                 "<work-dir>/latency-tables (env PRUNE_LATENCY_TABLE_CACHE)");
  app.add_option("--device", options.device, "auto, cpu or cuda (env PRUNE_DEVICE)");
  app.add_option("--lease-ttl", lease_ttl_s, "Lease length in seconds")->check(CLI::PositiveNumber);
  app.add_option("--heartbeat", heartbeat_s, "Heartbeat interval in seconds")->check(CLI::PositiveNumber);
  app.add_option("--poll", poll_s, "Queue poll interval in seconds")->check(CLI::PositiveNumber);
  app.add_option("--reap-interval", reap_s, "Expired-lease rescue interval in seconds")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-jobs", options.max_jobs, "Exit after this many jobs (0: never)");
  app.add_option("--stuck-grace", stuck_grace_s,
                 "Seconds a cancelled or timed-out engine may take to stop before the worker "
                 "records the job's end and restarts itself")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  CLI::Option* metrics_option =
      app.add_option("--metrics-listen", metrics_listen,
                     "host:port of the Prometheus /metrics endpoint, 'off' disables, port 0 "
                     "picks a free one (env PRUNE_METRICS_LISTEN)")
          ->capture_default_str();
  bool json_logs = false;
  app.add_flag("--log-json", json_logs, "Log JSON lines");
  // The job sandbox (docs/ARCHITECTURE.md, "Job sandbox"): each job's engine
  // runs in a child process with these limits.
  std::string sandbox_mode = EnvOr("PRUNE_SANDBOX", "on");
  app.add_option("--sandbox", sandbox_mode,
                 "on: run each job's engine in a limited child process (prune-job-child); off: in "
                 "this process, without limits (development only) (env PRUNE_SANDBOX)")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  std::string job_child_path;
  app.add_option("--job-child", job_child_path,
                 "Path of prune-job-child (default: next to prune-worker)");
  double job_memory_gib = 0;
  app.add_option("--job-memory-limit", job_memory_gib,
                 "Per-job memory limit in GiB (private writable memory of the engine process); "
                 "default 80% of this worker's memory (cgroup limit or RAM)")
      ->check(CLI::NonNegativeNumber);
  int64_t job_cpu_limit_s = 0;
  app.add_option("--job-cpu-limit", job_cpu_limit_s,
                 "Per-job CPU-time limit in seconds (user + system, all threads); 0: none (the "
                 "job's wall-clock time limit still applies)")
      ->check(CLI::NonNegativeNumber);
  double job_max_output_gib = 8;
  app.add_option("--job-max-output", job_max_output_gib,
                 "Largest file in GiB a job may write (pruned model, report, checkpoints)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  std::string job_network = "deny";
  app.add_option("--job-network", job_network,
                 "deny: the engine process gets no network (own namespace where allowed, and a "
                 "seccomp filter on socket()); allow: development only")
      ->check(CLI::IsMember({"deny", "allow"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  metrics_required = metrics_required || metrics_option->count() > 0;
  if (options.latency_table_cache_dir.empty()) {
    // The work folder outlives jobs (each job only removes its own subfolder).
    options.latency_table_cache_dir =
        (std::filesystem::path(options.work_dir) / "latency-tables").string();
  }

  prune::log::ConfigureLogging("worker", json_logs);
  if (options.database_url.empty()) {
    std::cerr << "prune-worker: no database: pass --database-url or set PRUNE_DATABASE_URL\n";
    return 2;
  }
  if (heartbeat_s * 2 > lease_ttl_s) {
    std::cerr << "prune-worker: --lease-ttl must be at least twice --heartbeat\n";
    return 2;
  }
  options.lease_ttl = absl::Seconds(lease_ttl_s);
  options.heartbeat_interval = absl::Seconds(heartbeat_s);
  options.poll_interval = absl::Seconds(poll_s);
  options.reap_interval = absl::Seconds(reap_s);
  options.stuck_grace = absl::Seconds(stuck_grace_s);
  // A model whose forward never returns holds the engine thread for good:
  // once the job's end is recorded, start over as a fresh process (or, when
  // shutting down anyway, just exit).
  options.on_engine_stuck = [argv](bool draining) {
    spdlog::critical("engine stuck in a model's code; {}",
                     draining ? "exiting (draining)" : "restarting the worker process");
    spdlog::default_logger()->flush();
    if (!draining) prune::worker::ReExecSelf(argv);
    std::_Exit(draining ? 0 : 1);
  };

  // Signals are taken by a dedicated thread (sigwait) so that the stop logic
  // may lock mutexes; block them before any other thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto pool = prune::db::ConnectionPool::Create(options.database_url, 4);
  if (!pool.ok()) {
    std::cerr << "prune-worker: " << pool.status() << "\n";
    return 1;
  }
  prune::metrics::Registry registry;
  auto worker_metrics = prune::metrics::WorkerMetrics::Create(registry);
  if (!worker_metrics.ok()) {
    std::cerr << "prune-worker: " << worker_metrics.status() << "\n";
    return 1;
  }
  std::unique_ptr<prune::metrics::MetricsHttpServer> metrics_server;
  if (MetricsDisabled(metrics_listen)) {
    spdlog::info("metrics endpoint off");
  } else {
    auto started = prune::metrics::MetricsHttpServer::Start(registry, metrics_listen);
    if (started.ok()) {
      metrics_server = std::move(*started);
      spdlog::info("metrics listening on {}:{}", ListenHost(metrics_listen),
                   metrics_server->port());
    } else if (metrics_required) {
      std::cerr << "prune-worker: cannot serve metrics on " << metrics_listen << ": "
                << started.status() << "\n";
      return 1;
    } else {
      spdlog::warn("no metrics endpoint: cannot serve metrics on the default {}: {}",
                   metrics_listen, started.status().ToString());
    }
  }

  // The heartbeat's own connection (LeaseKeeper): a lease must not expire
  // because the main pool is busy storing a large result.
  auto heartbeat_pool = prune::db::ConnectionPool::Create(options.database_url, 1);
  if (!heartbeat_pool.ok()) {
    std::cerr << "prune-worker: " << heartbeat_pool.status() << "\n";
    return 1;
  }
  prune::db::JobQueue heartbeat_queue(heartbeat_pool->get());
  prune::db::JobQueue queue(pool->get());
  prune::db::BlobStore blobs(pool->get());
  std::unique_ptr<prune::worker::PruneRunner> runner;
  if (sandbox_mode == "on") {
    prune::worker::SandboxOptions sandbox;
    sandbox.child_path = job_child_path.empty()
                             ? (std::filesystem::read_symlink("/proc/self/exe").parent_path() /
                                "prune-job-child")
                                   .string()
                             : std::filesystem::absolute(job_child_path).string();
    if (access(sandbox.child_path.c_str(), X_OK) != 0) {
      std::cerr << "prune-worker: no executable prune-job-child at " << sandbox.child_path
                << " (pass --job-child, or --sandbox off)\n";
      return 2;
    }
    sandbox.limits.memory_bytes =
        job_memory_gib > 0 ? static_cast<int64_t>(job_memory_gib * (1ull << 30))
                           : prune::worker::DefaultJobMemoryLimit();
    sandbox.limits.cpu_seconds = job_cpu_limit_s;
    sandbox.limits.max_file_bytes = static_cast<int64_t>(job_max_output_gib * (1ull << 30));
    sandbox.limits.deny_network = job_network == "deny";
    // The child must be gone before the watchdog would call the engine stuck.
    sandbox.kill_grace = std::min(absl::Seconds(5), options.stuck_grace / 2);
    spdlog::info("job sandbox on: memory limit {:.2f} GiB, CPU limit {}, max output {:.1f} GiB, "
                 "network {}",
                 static_cast<double>(sandbox.limits.memory_bytes) / (1ull << 30),
                 job_cpu_limit_s > 0 ? absl::StrCat(job_cpu_limit_s, " s") : std::string("none"),
                 job_max_output_gib, job_network);
    runner = std::make_unique<prune::worker::SandboxedPruneRunner>(std::move(sandbox),
                                                                   &*worker_metrics);
  } else {
    spdlog::warn("job sandbox off: jobs run inside this process without limits");
    runner = std::make_unique<prune::worker::EnginePruneRunner>();
  }
  auto clock = [] { return absl::Now(); };
  prune::worker::JobExecutor executor(&queue, &blobs, runner.get(), options, clock,
                                      &*worker_metrics);
  executor.UseHeartbeatQueue(&heartbeat_queue);
  prune::worker::WorkerLoop loop(&queue, &executor, options, clock, &*worker_metrics);

  std::thread signal_thread([&] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    spdlog::info("signal {}: draining (stop claiming, release the running job)", signal_number);
    loop.Stop();
  });
  absl::Status finished = loop.Run();
  if (signal_thread.joinable()) {
    // Run() may also end by --max-jobs: wake the signal thread to let it exit.
    pthread_kill(signal_thread.native_handle(), SIGTERM);
    signal_thread.join();
  }
  if (!finished.ok()) {
    std::cerr << "prune-worker: " << finished << "\n";
    return 1;
  }
  return 0;
}
