// Plain rows of the prune-service metadata tables, shared by the server and
// the worker. No libpq types leak out of common/db.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace prune::db {

struct ModelRecord {
  std::string id;  // uuid text
  std::string tenant;
  std::string display_name;
  std::vector<int64_t> input_shape;
  int64_t size_bytes = 0;
  std::string sha256;  // blob key
  absl::Time created_at;
};

struct DatasetRecord {
  std::string id;
  std::string tenant;
  std::string display_name;
  int64_t size_bytes = 0;
  std::string sha256;
  absl::Time created_at;
};

enum class JobState { kQueued, kRunning, kSucceeded, kFailed, kCancelled };

// "queued", "running", "succeeded", "failed", "cancelled" — the SQL spelling.
const char* JobStateName(JobState state);
std::optional<JobState> ParseJobState(const std::string& name);
bool IsTerminal(JobState state);

// What a client asked for; stored as jsonb `spec` plus indexed columns.
struct JobParameters {
  std::string model_id;
  std::string dataset_id;  // empty: no dataset
  std::string strategy = "uniform";
  std::string target_kind = "flops";  // "flops", "params" or "latency"
  double target_ratio = 0.5;
  int32_t latency_batch_size = 0;  // 0: the engine's default (32)
  int32_t finetune_epochs = 0;
  double finetune_lr = 0.0;  // 0: engine default
  uint64_t seed = 0;
  int32_t priority = 100;
  int32_t max_attempts = 3;
  std::string importance = "l1";
  int32_t search_max_evaluations = 0;  // 0: strategy default
  double search_seconds = 0.0;         // 0: no time limit
  int64_t time_limit_seconds = 0;      // per attempt; 0: the worker's default
  int32_t round_to = 1;
  int32_t min_channels = 1;
  std::string group_reduction = "mean";
  std::string normalization = "mean";
  double distillation_alpha = 0.0;        // 0: no knowledge distillation
  double distillation_temperature = 4.0;
  double accuracy_floor = 0.0;  // search strategies; 0: none
};

struct JobRecord {
  std::string id;
  std::string tenant;
  JobParameters params;
  std::string request_id;  // empty when none given
  JobState state = JobState::kQueued;
  int32_t attempt = 0;
  double progress = 0.0;
  std::string stage;
  std::string error;         // human readable
  std::string error_reason;  // e.g. MODEL_LOAD_FAILED
  std::string report_json;   // set when SUCCEEDED
  bool cancel_requested = false;
  absl::Time created_at;
  std::optional<absl::Time> started_at;
  std::optional<absl::Time> finished_at;
  std::string lease_owner;
  std::optional<absl::Time> lease_expires_at;
  std::string checkpoint_sha256;  // blob of saved search state; empty: start fresh
};

struct JobEventRecord {
  int64_t sequence = 0;  // 1, 2, ... per job
  absl::Time time;
  JobState state = JobState::kQueued;
  double progress = 0.0;
  std::string stage;
  std::string message;
};

enum class ArtifactKind { kPrunedModel, kReport };
const char* ArtifactKindName(ArtifactKind kind);  // "pruned_model", "report"

struct ArtifactRecord {
  ArtifactKind kind = ArtifactKind::kPrunedModel;
  std::string sha256;
  int64_t size_bytes = 0;
};

// One candidate a search strategy evaluated (table job_candidates).
struct CandidateRecord {
  int64_t index = 0;            // the engine's evaluation order
  std::vector<int64_t> widths;  // kept channels per prunable group
  int64_t macs = 0;
  int64_t params = 0;
  double score = 0;  // accuracy on the held-out split
  bool feasible = false;
  bool pareto = false;
};

// One page of a List call. next_page_token is empty on the last page.
template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_page_token;
};

}  // namespace prune::db
