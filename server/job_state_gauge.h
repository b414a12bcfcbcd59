// prune_jobs{state}: the number of jobs in each state, for the scrape-time
// callback gauge of ServerMetrics. The query (SELECT state, count(*) FROM jobs
// GROUP BY state) runs on a background thread, only when a scrape asks and at
// most once per `min_interval`; a scrape waits for it at most `scrape_wait`
// and otherwise gets the cached counts, so /metrics never hangs when the
// database is slow or down.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/db/connection_pool.h"
#include "common/metrics/registry.h"

namespace prune::server {

class JobStateGauge {
 public:
  struct Options {
    // Counts are at most this old when a scrape asks for them.
    absl::Duration min_interval = absl::Seconds(2);
    // How long a scrape waits for a refresh it triggered.
    absl::Duration scrape_wait = absl::Milliseconds(500);
    // Pool acquire and statement_timeout of the query.
    absl::Duration query_timeout = absl::Seconds(2);
    // Counts older than this are not exported (the series disappear), so a
    // dead database does not look like a frozen queue.
    absl::Duration max_staleness = absl::Seconds(60);
  };

  // `pool` must outlive this object.
  JobStateGauge(db::ConnectionPool* pool, Options options);
  explicit JobStateGauge(db::ConnectionPool* pool) : JobStateGauge(pool, Options()) {}
  // Stops and joins the background thread.
  ~JobStateGauge();
  JobStateGauge(const JobStateGauge&) = delete;
  JobStateGauge& operator=(const JobStateGauge&) = delete;

  // One sample per job state ({"queued"}, {"running"}, ...; 0 for states with
  // no jobs), or none when no count younger than max_staleness is known.
  // Thread-safe; this is the CallbackGaugeFamily callback.
  std::vector<metrics::Sample> Collect();

  static constexpr int kNumStates = 5;

 private:
  void RefreshLoop();
  absl::StatusOr<std::array<int64_t, kNumStates>> Query();

  db::ConnectionPool* const pool_;
  const Options options_;

  std::mutex mu_;
  std::condition_variable wake_;                    // refresher: a refresh was requested or stop
  std::condition_variable refreshed_;               // scrapers: a refresh attempt finished
  bool stop_ = false;                               // guarded by mu_
  bool requested_ = false;                          // guarded by mu_
  bool in_flight_ = false;                          // guarded by mu_
  uint64_t attempts_ = 0;                           // finished refresh attempts, guarded by mu_
  absl::Time last_attempt_ = absl::InfinitePast();  // guarded by mu_
  absl::Time last_success_ = absl::InfinitePast();  // guarded by mu_
  bool last_failed_ = false;                        // guarded by mu_ (logs transitions only)
  std::array<int64_t, kNumStates> counts_{};        // guarded by mu_
  std::thread refresher_;
};

}  // namespace prune::server
