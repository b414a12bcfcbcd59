// Settings of one prune-worker process (flags / environment, see main.cc).
#pragma once

#include <functional>
#include <string>

#include "absl/time/time.h"

namespace prune::worker {

struct WorkerOptions {
  std::string database_url;
  std::string worker_id;         // unique per process: host-pid by default
  std::string work_dir;          // scratch space for model/dataset/result files
  // Per-layer latency tables of LATENCY targets, kept across jobs (one per
  // model, input shape, batch size, device and LibTorch version).
  std::string latency_table_cache_dir;
  absl::Duration lease_ttl = absl::Seconds(60);
  absl::Duration heartbeat_interval = absl::Seconds(15);
  // A cancel reaches the engine within about this long (a read, no write).
  absl::Duration cancel_poll_interval = absl::Seconds(1);
  absl::Duration poll_interval = absl::Seconds(2);
  absl::Duration reap_interval = absl::Seconds(10);
  // Progress events are written at most this often (stage changes always).
  absl::Duration progress_interval = absl::Seconds(1);
  std::string device = "auto";
  int max_jobs = 0;  // exit after this many jobs; 0 = run until signalled
  // Limit of one attempt for jobs that carry none (created before jobs had
  // one); jobs normally carry the server's default (24 h).
  absl::Duration default_time_limit = absl::Hours(24);
  // How long a cancelled engine may take to return before it counts as
  // stuck (see JobWatchdog).
  absl::Duration stuck_grace = absl::Seconds(10);
  // Called (from the watchdog thread) after the job's end has been recorded
  // when the engine is stuck. `draining`: the worker was shutting down.
  // prune-worker exits (draining) or re-executes itself; it must not return
  // there. Unset (tests): only the job's end is recorded.
  std::function<void(bool draining)> on_engine_stuck;
};

}  // namespace prune::worker
