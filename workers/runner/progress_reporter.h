// Forwards engine progress to the job's event stream without flooding it:
// every stage change is written, progress within a stage at most once per
// interval.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "common/db/job_queue.h"
#include "prune/engine/job.h"

namespace prune::worker {

class ProgressReporter {
 public:
  ProgressReporter(db::JobQueue* queue, db::LeaseToken lease, absl::Duration interval,
                   std::function<absl::Time()> clock);

  void Report(const engine::Progress& progress);

 private:
  db::JobQueue* queue_;
  db::LeaseToken lease_;
  absl::Duration interval_;
  std::function<absl::Time()> clock_;
  std::string last_stage_;
  std::optional<absl::Time> last_written_;
};

}  // namespace prune::worker
