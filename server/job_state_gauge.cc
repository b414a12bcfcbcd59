#include "server/job_state_gauge.h"

#include <utility>

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "common/db/connection.h"
#include "common/db/records.h"

namespace prune::server {
namespace {

constexpr db::JobState kStates[JobStateGauge::kNumStates] = {
    db::JobState::kQueued, db::JobState::kRunning, db::JobState::kSucceeded, db::JobState::kFailed,
    db::JobState::kCancelled};

}  // namespace

JobStateGauge::JobStateGauge(db::ConnectionPool* pool, Options options)
    : pool_(pool), options_(options) {
  refresher_ = std::thread([this] { RefreshLoop(); });
}

JobStateGauge::~JobStateGauge() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  refresher_.join();
}

std::vector<metrics::Sample> JobStateGauge::Collect() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!requested_ && !in_flight_ && absl::Now() - last_attempt_ >= options_.min_interval) {
    requested_ = true;
    wake_.notify_one();
  }
  if (requested_ || in_flight_) {
    const uint64_t before = attempts_;
    refreshed_.wait_for(lock, absl::ToChronoNanoseconds(options_.scrape_wait),
                        [&] { return attempts_ != before || stop_; });
  }
  std::vector<metrics::Sample> samples;
  if (absl::Now() - last_success_ > options_.max_staleness) return samples;
  samples.reserve(kNumStates);
  for (int i = 0; i < kNumStates; ++i) {
    samples.push_back({{db::JobStateName(kStates[i])}, static_cast<double>(counts_[i])});
  }
  return samples;
}

void JobStateGauge::RefreshLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return stop_ || requested_; });
    if (stop_) return;
    requested_ = false;
    in_flight_ = true;
    lock.unlock();
    absl::StatusOr<std::array<int64_t, kNumStates>> counts = Query();
    lock.lock();
    in_flight_ = false;
    last_attempt_ = absl::Now();
    ++attempts_;
    if (counts.ok()) {
      counts_ = *counts;
      last_success_ = last_attempt_;
      if (last_failed_) spdlog::info("prune_jobs metric: job counts readable again");
      last_failed_ = false;
    } else {
      if (!last_failed_) {
        spdlog::warn("prune_jobs metric: cannot count jobs: {}", counts.status().ToString());
      }
      last_failed_ = true;
    }
    refreshed_.notify_all();
  }
}

absl::StatusOr<std::array<int64_t, JobStateGauge::kNumStates>> JobStateGauge::Query() {
  absl::StatusOr<db::ConnectionPool::Lease> lease = pool_->Acquire(options_.query_timeout);
  if (!lease.ok()) return lease.status();
  absl::StatusOr<db::Transaction> transaction = db::Transaction::Begin(lease->get());
  if (!transaction.ok()) return transaction.status();
  // SET LOCAL: the pooled connection goes back without the timeout.
  absl::StatusOr<db::Result> set = (*lease)->Exec(absl::StrCat(
      "SET LOCAL statement_timeout = ", absl::ToInt64Milliseconds(options_.query_timeout)));
  if (!set.ok()) return set.status();
  absl::StatusOr<db::Result> result =
      (*lease)->Exec("SELECT state, count(*) FROM jobs GROUP BY state");
  if (!result.ok()) return result.status();
  std::array<int64_t, kNumStates> counts{};
  for (int row = 0; row < result->rows(); ++row) {
    const std::string state = result->Text(row, 0);
    for (int i = 0; i < kNumStates; ++i) {
      if (state == db::JobStateName(kStates[i])) counts[i] = result->Int64(row, 1);
    }
  }
  if (absl::Status s = transaction->Commit(); !s.ok()) return s;
  return counts;
}

}  // namespace prune::server
