#include "workers/runner/job_executor.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log/logging.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"
#include "workers/runner/job_failure.h"
#include "workers/runner/job_watchdog.h"
#include "workers/runner/lease_keeper.h"
#include "workers/runner/progress_reporter.h"

namespace prune::worker {
namespace {

namespace fs = std::filesystem;


absl::Status WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// Turns the engine's stage reports into prune_evaluations_total and
// prune_evaluation_duration_seconds (see IsEvaluationStage).
class EvaluationCounter {
 public:
  EvaluationCounter(metrics::WorkerMetrics* metrics, const engine::JobSpec& spec,
                    std::function<absl::Time()> clock)
      : metrics_(metrics),
        has_dataset_(!spec.dataset_path.empty()),
        finetune_epochs_(spec.finetune_epochs),
        clock_(std::move(clock)) {}

  void OnStage(const std::string& stage) {
    if (metrics_ == nullptr || stage == stage_) return;
    const absl::Time now = clock_();
    if (IsEvaluationStage(stage_, has_dataset_, finetune_epochs_)) {
      metrics_->evaluations->Increment();
      metrics_->evaluation_duration->Observe(absl::ToDoubleSeconds(now - stage_start_));
    }
    stage_ = stage;
    stage_start_ = now;
  }

 private:
  metrics::WorkerMetrics* metrics_;
  bool has_dataset_;
  int finetune_epochs_;
  std::function<absl::Time()> clock_;
  std::string stage_;
  absl::Time stage_start_;
};

// after.top1 of an engine report, if it is a number.
std::optional<double> FinalTop1(const std::string& report_json) {
  const nlohmann::json report = nlohmann::json::parse(report_json, nullptr, false);
  if (report.is_discarded() || !report.is_object()) return std::nullopt;
  const auto after = report.find("after");
  if (after == report.end() || !after->is_object()) return std::nullopt;
  const auto top1 = after->find("top1");
  if (top1 == after->end() || !top1->is_number()) return std::nullopt;
  return top1->get<double>();
}

}  // namespace

std::vector<db::CandidateRecord> ReportCandidates(const std::string& report_json) {
  std::vector<db::CandidateRecord> candidates;
  const nlohmann::json report = nlohmann::json::parse(report_json, nullptr, false);
  if (report.is_discarded() || !report.is_object()) return candidates;
  const auto list = report.find("candidates");
  if (list == report.end() || !list->is_array()) return candidates;
  for (const nlohmann::json& item : *list) {
    if (!item.is_object()) continue;
    const auto index = item.find("index");
    if (index == item.end() || !index->is_number_integer() || index->get<int64_t>() < 0) continue;
    db::CandidateRecord candidate;
    candidate.index = index->get<int64_t>();
    if (const auto keep = item.find("keep"); keep != item.end() && keep->is_array()) {
      for (const nlohmann::json& width : *keep) {
        if (width.is_number_integer()) candidate.widths.push_back(width.get<int64_t>());
      }
    }
    // Missing or mistyped fields read as 0 / false (value() would throw).
    const auto count = [&item](const char* key) -> int64_t {
      const auto it = item.find(key);
      return it != item.end() && it->is_number_integer() ? std::max<int64_t>(0, it->get<int64_t>())
                                                         : 0;
    };
    const auto flag = [&item](const char* key) {
      const auto it = item.find(key);
      return it != item.end() && it->is_boolean() && it->get<bool>();
    };
    candidate.macs = count("macs");
    candidate.params = count("params");
    if (const auto score = item.find("score"); score != item.end() && score->is_number()) {
      candidate.score = score->get<double>();
    }
    candidate.feasible = flag("feasible");
    candidate.pareto = flag("pareto");
    candidates.push_back(std::move(candidate));
  }
  return candidates;
}

bool IsEvaluationStage(const std::string& stage, bool has_dataset, int finetune_epochs) {
  if (!has_dataset) return false;
  return stage == "measure_before" || stage == "evaluate" ||
         (stage == "measure_after" && finetune_epochs > 0);
}

const char* JobEndName(JobEnd end) {
  switch (end) {
    case JobEnd::kSucceeded:
      return "succeeded";
    case JobEnd::kFailed:
      return "failed";
    case JobEnd::kCancelled:
      return "cancelled";
    case JobEnd::kReleased:
      return "released";
    case JobEnd::kLeaseLost:
      return "lease_lost";
  }
  return "unknown";
}

JobExecutor::JobExecutor(db::JobQueue* queue, db::BlobStore* blobs, PruneRunner* runner,
                         WorkerOptions options, std::function<absl::Time()> clock,
                         metrics::WorkerMetrics* metrics)
    : queue_(queue),
      blobs_(blobs),
      runner_(runner),
      options_(std::move(options)),
      clock_(std::move(clock)),
      metrics_(metrics) {}

void JobExecutor::Drain() {
  std::lock_guard<std::mutex> lock(mu_);
  draining_ = true;
  if (running_cancel_ != nullptr) running_cancel_->Cancel();
}

bool JobExecutor::draining() {
  std::lock_guard<std::mutex> lock(mu_);
  return draining_;
}

absl::Duration JobExecutor::TimeLimit(const db::ClaimedJob& claimed) const {
  const int64_t seconds = claimed.job.params.time_limit_seconds;
  return seconds > 0 ? absl::Seconds(seconds) : options_.default_time_limit;
}

engine::JobSpec JobExecutor::BuildSpec(const db::ClaimedJob& claimed,
                                       const std::string& dir) const {
  const db::JobParameters& params = claimed.job.params;
  engine::JobSpec spec;
  spec.model_path = dir + "/model.pt";
  spec.dataset_path = claimed.dataset ? dir + "/dataset.pt" : "";
  spec.output_model_path = dir + "/pruned.pt";
  spec.input_shape = claimed.model.input_shape;
  spec.strategy = params.strategy;
  spec.target_kind = params.target_kind;
  spec.target_ratio = params.target_ratio;
  if (params.latency_batch_size > 0) spec.latency_batch_size = params.latency_batch_size;
  spec.finetune_epochs = params.finetune_epochs;
  if (params.finetune_lr > 0) spec.finetune_lr = params.finetune_lr;
  spec.seed = params.seed;
  spec.device = options_.device;
  spec.latency_table_cache_dir = options_.latency_table_cache_dir;
  spec.importance = params.importance;
  spec.search_max_evaluations = params.search_max_evaluations;
  spec.search_seconds = params.search_seconds;
  spec.round_to = params.round_to;
  spec.min_channels = params.min_channels;
  spec.group_reduction = params.group_reduction;
  spec.normalization = params.normalization;
  spec.kd_alpha = params.distillation_alpha;
  spec.kd_temperature = params.distillation_temperature;
  spec.accuracy_floor = params.accuracy_floor;
  return spec;
}

JobEnd JobExecutor::Execute(const db::ClaimedJob& claimed) {
  const db::LeaseToken lease{claimed.job.id, options_.worker_id, claimed.job.attempt};
  // The limit covers the whole attempt, fetching the inputs included.
  const absl::Duration time_limit = TimeLimit(claimed);
  const absl::Time deadline = clock_() + time_limit;
  const log::ScopedJobContext log_context(claimed.job.id, claimed.job.tenant, claimed.job.attempt);
  const std::string dir =
      absl::StrCat(options_.work_dir, "/", claimed.job.id, "-", claimed.job.attempt);
  std::error_code ec;
  fs::create_directories(dir, ec);
  // Private to this worker's user: the tenant's model, data and results.
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  // The scratch folder goes whatever happens; results live in Postgres.
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{dir};

  engine::JobSpec spec = BuildSpec(claimed, dir);
  // prune_best_accuracy describes the job being run: unknown (0) until it
  // succeeds with an accuracy.
  if (metrics_ != nullptr) metrics_->best_accuracy->Set(0);
  absl::Status fetched = blobs_->ReadToFile(claimed.model.sha256, spec.model_path);
  if (fetched.ok() && claimed.dataset) {
    fetched = blobs_->ReadToFile(claimed.dataset->sha256, spec.dataset_path);
  }
  if (fetched.ok() && !claimed.job.checkpoint_sha256.empty()) {
    // An earlier attempt saved its search state: continue from there.
    fetched = blobs_->Read(claimed.job.checkpoint_sha256, [&spec](std::string_view chunk) {
      spec.search_resume_state.append(chunk.data(), chunk.size());
      return true;
    });
    if (fetched.ok()) {
      spdlog::info("job {} attempt {}: resuming the search from checkpoint {}", lease.job_id,
                   lease.attempt, claimed.job.checkpoint_sha256.substr(0, 12));
    }
  }
  if (!fetched.ok()) {
    return FailJob(lease, "INPUT_FETCH_FAILED", std::string(fetched.message()), true);
  }
  spec.on_checkpoint = [this, &lease, &dir](const std::string& state) {
    SaveCheckpoint(lease, dir, state);
  };

  engine::CancelToken cancel;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_) cancel.Cancel();
    running_cancel_ = &cancel;
  }
  engine::Status status;
  engine::JobOutcome outcome;
  RunSignals signals;
  signals.time_limit = time_limit;
  std::optional<JobEnd> stuck_end;  // set by the watchdog thread
  {
    LeaseKeeper keeper(heartbeat_queue_ != nullptr ? heartbeat_queue_ : queue_, lease,
                       claimed.job.tenant, options_.lease_ttl, options_.heartbeat_interval,
                       options_.cancel_poll_interval, clock_, &cancel);
    ProgressReporter progress(queue_, lease, options_.progress_interval, clock_);
    EvaluationCounter evaluations(metrics_, spec, clock_);
    // on_stuck runs on the watchdog's thread while the engine still holds
    // this one; `watchdog` is in scope in its own initializer.
    JobWatchdog watchdog(&cancel, deadline, options_.stuck_grace, clock_, [&] {
      RunSignals now = signals;
      now.cancel_requested = keeper.cancel_requested();
      now.lease_lost = keeper.lease_lost();
      now.time_limit_hit = watchdog.time_limit_hit();
      stuck_end = EndStuckRun(lease, spec, now);
    });
    status = runner_->Run(
        spec,
        [&progress, &evaluations](const engine::Progress& p) {
          evaluations.OnStage(p.stage);
          progress.Report(p);
        },
        cancel, &outcome);
    signals.cancel_requested = keeper.cancel_requested();
    signals.lease_lost = keeper.lease_lost();
    signals.time_limit_hit = watchdog.time_limit_hit();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_cancel_ = nullptr;
  }
  if (stuck_end) return *stuck_end;  // its end is already written
  const JobEnd end = Finish(lease, status, outcome, spec, signals);
  if (metrics_ != nullptr && end == JobEnd::kSucceeded) {
    if (std::optional<double> top1 = FinalTop1(outcome.report_json)) {
      metrics_->best_accuracy->Set(*top1);
    }
  }
  return end;
}

void JobExecutor::SaveCheckpoint(const db::LeaseToken& lease, const std::string& dir,
                                 const std::string& state) {
  // Best effort: a lost checkpoint costs recomputation on the next attempt,
  // never correctness, so failures are logged and the search goes on.
  const std::string path = dir + "/checkpoint.bin";
  absl::Status saved = WriteFile(path, state);
  absl::StatusOr<std::string> sha = saved.ok() ? blobs_->PutFile(path) : saved;
  if (sha.ok()) saved = queue_->SaveCheckpoint(lease, *sha, clock_());
  if (!sha.ok() || !saved.ok()) {
    spdlog::warn("job {} attempt {}: checkpoint not saved: {}", lease.job_id, lease.attempt,
                 (sha.ok() ? saved : sha.status()).ToString());
  }
}

JobEnd JobExecutor::EndStuckRun(const db::LeaseToken& lease, const engine::JobSpec& spec,
                                const RunSignals& signals) {
  spdlog::error("job {} attempt {}: the engine did not stop within {} of being asked to ({})",
                lease.job_id, lease.attempt, absl::FormatDuration(options_.stuck_grace),
                signals.time_limit_hit     ? "time limit"
                : signals.cancel_requested ? "cancelled"
                : signals.lease_lost       ? "lease lost"
                                           : "shutdown");
  const JobEnd end =
      Finish(lease, engine::Status{"CANCELLED", "the engine did not stop"}, {}, spec, signals);
  // Execute()'s clean-up will not run if the process is replaced.
  std::error_code ignored;
  fs::remove_all(fs::path(spec.model_path).parent_path(), ignored);
  if (options_.on_engine_stuck) options_.on_engine_stuck(draining());
  return end;
}

JobEnd JobExecutor::Finish(const db::LeaseToken& lease, const engine::Status& status,
                           const engine::JobOutcome& outcome, const engine::JobSpec& spec,
                           const RunSignals& signals) {
  if (signals.lease_lost) return JobEnd::kLeaseLost;
  const bool stopped =
      status.code == "CANCELLED" ||
      (!status.ok() && (signals.cancel_requested || signals.time_limit_hit || draining()));
  if (stopped && !signals.cancel_requested && signals.time_limit_hit) {
    // The same input would run out of time again: not retried.
    return FailJob(lease, "JOB_TIME_LIMIT_EXCEEDED",
                   absl::StrCat("the attempt ran longer than the job's time limit of ",
                                absl::FormatDuration(signals.time_limit),
                                " (Job.time_limit_seconds); it was stopped"),
                   false);
  }
  if (stopped) {
    absl::Status written;
    JobEnd end;
    if (signals.cancel_requested) {
      written = queue_->MarkCancelled(lease, clock_());
      end = JobEnd::kCancelled;
    } else {
      written = queue_->Release(lease, clock_());
      end = JobEnd::kReleased;
    }
    if (absl::IsAborted(written)) return JobEnd::kLeaseLost;
    if (!written.ok())
      spdlog::error("job {}: final write failed: {}", lease.job_id, written.ToString());
    return end;
  }
  if (!status.ok()) {
    // Input problems stay problems on every attempt, and so do what the
    // model does to the sandbox (memory, crashes); only the unexpected is
    // worth retrying on another worker.
    const std::string reason = DomainReason(status.code);
    return FailJob(lease, reason, status.message, IsRetryableReason(reason));
  }

  const std::string report_path = spec.output_model_path + ".report.json";
  absl::Status wrote = WriteFile(report_path, outcome.report_json);
  if (!wrote.ok())
    return FailJob(lease, "ARTIFACT_STORE_FAILED", std::string(wrote.message()), true);
  std::vector<db::ArtifactRecord> artifacts;
  for (const auto& [kind, path] :
       {std::pair{db::ArtifactKind::kPrunedModel, spec.output_model_path},
        std::pair{db::ArtifactKind::kReport, report_path}}) {
    auto sha = blobs_->PutFile(path);
    if (!sha.ok())
      return FailJob(lease, "ARTIFACT_STORE_FAILED", std::string(sha.status().message()), true);
    auto size = blobs_->Size(*sha);
    if (!size.ok())
      return FailJob(lease, "ARTIFACT_STORE_FAILED", std::string(size.status().message()), true);
    artifacts.push_back({kind, *sha, *size});
  }
  // A malformed entry is skipped rather than failing a finished job; a
  // repeated index (INVALID_ARGUMENT) fails it below like any write error.
  absl::Status completed = queue_->Complete(lease, outcome.report_json, artifacts, clock_(),
                                            ReportCandidates(outcome.report_json));
  if (absl::IsAborted(completed)) return JobEnd::kLeaseLost;
  if (!completed.ok()) {
    // The lease is still ours, the database is not: the reaper will hand the
    // job to another attempt once the lease expires.
    spdlog::error("job {}: completing failed: {}", lease.job_id, completed.ToString());
    return JobEnd::kFailed;
  }
  return JobEnd::kSucceeded;
}

JobEnd JobExecutor::FailJob(const db::LeaseToken& lease, const std::string& reason,
                            const std::string& message, bool retryable) {
  // The tenant reads a short text; the whole one (LibTorch frames, paths)
  // stays in this log under the id that the short text quotes.
  const std::string error_id = NewErrorId();
  spdlog::warn("job {} attempt {}: {} (error id {}): {}", lease.job_id, lease.attempt, reason,
               error_id, message);
  const std::string tenant_text =
      absl::StrCat(TenantErrorText(message), " (error id ", error_id, ")");
  absl::Status written = queue_->Fail(lease, reason, tenant_text, retryable, clock_());
  if (absl::IsAborted(written)) return JobEnd::kLeaseLost;
  if (!written.ok())
    spdlog::error("job {}: recording failure failed: {}", lease.job_id, written.ToString());
  return JobEnd::kFailed;
}

}  // namespace prune::worker
