#include "server/proto_conversion.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/resource_names.h"

namespace prune::server {

void ToTimestamp(absl::Time time, google::protobuf::Timestamp* out) {
  const absl::Duration since_epoch = time - absl::UnixEpoch();
  const int64_t seconds = absl::ToInt64Seconds(absl::Floor(since_epoch, absl::Seconds(1)));
  out->set_seconds(seconds);
  out->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(since_epoch - absl::Seconds(seconds))));
}

v1::Model ToProto(const db::ModelRecord& record) {
  v1::Model model;
  model.set_name(FormatResourceName(record.tenant, kModels, record.id));
  model.set_display_name(record.display_name);
  for (int64_t dim : record.input_shape) model.add_input_shape(dim);
  model.set_size_bytes(record.size_bytes);
  model.set_sha256(record.sha256);
  ToTimestamp(record.created_at, model.mutable_create_time());
  return model;
}

v1::Dataset ToProto(const db::DatasetRecord& record) {
  v1::Dataset dataset;
  dataset.set_name(FormatResourceName(record.tenant, kDatasets, record.id));
  dataset.set_display_name(record.display_name);
  dataset.set_size_bytes(record.size_bytes);
  dataset.set_sha256(record.sha256);
  ToTimestamp(record.created_at, dataset.mutable_create_time());
  return dataset;
}

v1::Job::State ToProto(db::JobState state) {
  switch (state) {
    case db::JobState::kQueued:
      return v1::Job::QUEUED;
    case db::JobState::kRunning:
      return v1::Job::RUNNING;
    case db::JobState::kSucceeded:
      return v1::Job::SUCCEEDED;
    case db::JobState::kFailed:
      return v1::Job::FAILED;
    case db::JobState::kCancelled:
      return v1::Job::CANCELLED;
  }
  return v1::Job::STATE_UNSPECIFIED;
}

v1::Job ToProto(const db::JobRecord& record) {
  v1::Job job;
  const db::JobParameters& p = record.params;
  job.set_name(FormatResourceName(record.tenant, kJobs, record.id));
  job.set_model(FormatResourceName(record.tenant, kModels, p.model_id));
  if (!p.dataset_id.empty()) {
    job.set_dataset(FormatResourceName(record.tenant, kDatasets, p.dataset_id));
  }
  job.mutable_target()->set_kind(TargetKindFromName(p.target_kind));
  job.mutable_target()->set_ratio(p.target_ratio);
  job.mutable_target()->set_latency_batch_size(p.latency_batch_size);
  job.set_strategy(StrategyFromName(p.strategy));
  job.mutable_finetune()->set_epochs(p.finetune_epochs);
  job.mutable_finetune()->set_learning_rate(p.finetune_lr);
  job.set_importance(p.importance);
  job.mutable_search()->set_max_evaluations(p.search_max_evaluations);
  job.mutable_search()->set_max_seconds(p.search_seconds);
  job.mutable_search()->set_accuracy_floor(p.accuracy_floor);
  job.set_time_limit_seconds(p.time_limit_seconds);
  job.mutable_finetune()->set_distillation_alpha(p.distillation_alpha);
  job.mutable_finetune()->set_distillation_temperature(p.distillation_temperature);
  v1::ChannelSettings* channels = job.mutable_channels();
  channels->set_round_to(p.round_to);
  channels->set_min_channels(p.min_channels);
  channels->set_group_reduction(p.group_reduction);
  channels->set_normalization(p.normalization);
  job.set_seed(p.seed);
  job.set_priority(p.priority);
  job.set_state(ToProto(record.state));
  job.set_attempt(record.attempt);
  job.set_max_attempts(p.max_attempts);
  job.set_progress(record.progress);
  job.set_stage(record.stage);
  job.set_error(record.error);
  job.set_error_reason(record.error_reason);
  job.set_report_json(record.report_json);
  ToTimestamp(record.created_at, job.mutable_create_time());
  if (record.started_at) ToTimestamp(*record.started_at, job.mutable_start_time());
  if (record.finished_at) ToTimestamp(*record.finished_at, job.mutable_end_time());
  return job;
}

v1::JobEvent ToProto(const db::JobEventRecord& record) {
  v1::JobEvent event;
  event.set_sequence(record.sequence);
  ToTimestamp(record.time, event.mutable_time());
  event.set_state(ToProto(record.state));
  event.set_progress(record.progress);
  event.set_stage(record.stage);
  event.set_message(record.message);
  return event;
}

absl::StatusOr<std::optional<db::JobState>> JobStateFilterFromProto(int state) {
  switch (state) {
    case v1::Job::STATE_UNSPECIFIED:
      return std::optional<db::JobState>();
    case v1::Job::QUEUED:
      return db::JobState::kQueued;
    case v1::Job::RUNNING:
      return db::JobState::kRunning;
    case v1::Job::SUCCEEDED:
      return db::JobState::kSucceeded;
    case v1::Job::FAILED:
      return db::JobState::kFailed;
    case v1::Job::CANCELLED:
      return db::JobState::kCancelled;
  }
  return absl::InvalidArgumentError(absl::StrCat("STATE_INVALID: unknown job state ", state));
}

std::string StrategyName(v1::Strategy strategy) {
  return absl::AsciiStrToLower(v1::Strategy_Name(strategy));
}

v1::Strategy StrategyFromName(const std::string& name) {
  v1::Strategy strategy = v1::STRATEGY_UNSPECIFIED;
  v1::Strategy_Parse(absl::AsciiStrToUpper(name), &strategy);
  return strategy;
}

std::string TargetKindName(v1::Target::Kind kind) {
  return absl::AsciiStrToLower(v1::Target::Kind_Name(kind));
}

v1::Target::Kind TargetKindFromName(const std::string& name) {
  v1::Target::Kind kind = v1::Target::KIND_UNSPECIFIED;
  v1::Target::Kind_Parse(absl::AsciiStrToUpper(name), &kind);
  return kind;
}

absl::StatusOr<db::ArtifactKind> ArtifactKindFromProto(int kind) {
  switch (kind) {
    case v1::PRUNED_MODEL:
      return db::ArtifactKind::kPrunedModel;
    case v1::REPORT:
      return db::ArtifactKind::kReport;
    case v1::ARTIFACT_KIND_UNSPECIFIED:
      return absl::InvalidArgumentError(
          "ARTIFACT_KIND_REQUIRED: kind must be PRUNED_MODEL or REPORT");
  }
  return absl::InvalidArgumentError(absl::StrCat("ARTIFACT_KIND_INVALID: unknown kind ", kind));
}

v1::Candidate ToProto(const db::CandidateRecord& record) {
  v1::Candidate candidate;
  candidate.set_index(record.index);
  candidate.set_macs(record.macs);
  candidate.set_params(record.params);
  candidate.set_score(record.score);
  candidate.set_feasible(record.feasible);
  candidate.set_pareto(record.pareto);
  for (int64_t width : record.widths) candidate.add_group_widths(width);
  return candidate;
}

}  // namespace prune::server
