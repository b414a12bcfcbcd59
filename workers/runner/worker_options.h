// Settings of one prune-worker process (flags / environment, see main.cc).
#pragma once

#include <string>

#include "absl/time/time.h"

namespace prune::worker {

struct WorkerOptions {
  std::string database_url;
  std::string worker_id;         // unique per process: host-pid by default
  std::string work_dir;          // scratch space for model/dataset/result files
  absl::Duration lease_ttl = absl::Seconds(60);
  absl::Duration heartbeat_interval = absl::Seconds(15);
  absl::Duration poll_interval = absl::Seconds(2);
  absl::Duration reap_interval = absl::Seconds(10);
  // Progress events are written at most this often (stage changes always).
  absl::Duration progress_interval = absl::Seconds(1);
  std::string device = "auto";
  int max_jobs = 0;  // exit after this many jobs; 0 = run until signalled
};

}  // namespace prune::worker
