#include "common/db/job_rows.h"

#include <cctype>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace prune::db {

std::string Micros(const std::string& column) {
  return absl::StrCat("(extract(epoch FROM ", column, ") * 1000000)::bigint");
}

std::string JobColumns(const std::string& a) {
  const std::string p = a + ".";
  return absl::StrCat(p, "id, ", p, "tenant, ", p, "spec::text, ", p, "request_id, ", p, "state, ",
                      p, "attempt, ", p, "progress, ", p, "stage, ", p, "error, ", p,
                      "error_reason, ", p, "report::text, ", p, "cancel_requested_at IS NOT NULL, ",
                      Micros(p + "created_at"), ", ", Micros(p + "started_at"), ", ",
                      Micros(p + "finished_at"), ", ", p, "lease_owner, ",
                      Micros(p + "lease_expires_at"), ", ", p, "checkpoint_sha256");
}

std::string ModelColumns(const std::string& a) {
  const std::string p = a + ".";
  return absl::StrCat(p, "id, ", p, "tenant, ", p, "display_name, ", p, "input_shape, ", p,
                      "size_bytes, ", p, "sha256, ", Micros(p + "created_at"));
}

std::string DatasetColumns(const std::string& a) {
  const std::string p = a + ".";
  return absl::StrCat(p, "id, ", p, "tenant, ", p, "display_name, ", p, "size_bytes, ", p,
                      "sha256, ", Micros(p + "created_at"));
}

namespace {

// Postgres array text "{1,3,224,224}".
std::vector<int64_t> ParseBigintArray(std::string_view text) {
  std::vector<int64_t> values;
  if (text.size() < 2) return values;
  text = text.substr(1, text.size() - 2);
  if (text.empty()) return values;
  for (absl::string_view item : absl::StrSplit(absl::string_view(text.data(), text.size()), ',')) {
    int64_t value = 0;
    if (absl::SimpleAtoi(item, &value)) values.push_back(value);
  }
  return values;
}

}  // namespace

JobRecord JobFromRow(const Result& r, int row, int c) {
  JobRecord job;
  job.id = r.Text(row, c + 0);
  job.tenant = r.Text(row, c + 1);
  job.params = DecodeJobSpec(r.Text(row, c + 2));
  job.request_id = r.TextOr(row, c + 3);
  job.state = ParseJobState(r.Text(row, c + 4)).value_or(JobState::kQueued);
  job.attempt = static_cast<int32_t>(r.Int64(row, c + 5));
  job.progress = r.Double(row, c + 6);
  job.stage = r.Text(row, c + 7);
  job.error = r.Text(row, c + 8);
  job.error_reason = r.Text(row, c + 9);
  job.report_json = r.TextOr(row, c + 10);
  job.cancel_requested = r.Bool(row, c + 11);
  job.created_at = r.TimeFromMicros(row, c + 12);
  job.started_at = r.OptionalTimeFromMicros(row, c + 13);
  job.finished_at = r.OptionalTimeFromMicros(row, c + 14);
  job.lease_owner = r.TextOr(row, c + 15);
  job.lease_expires_at = r.OptionalTimeFromMicros(row, c + 16);
  job.checkpoint_sha256 = r.TextOr(row, c + 17);
  return job;
}

ModelRecord ModelFromRow(const Result& r, int row, int c) {
  ModelRecord model;
  model.id = r.Text(row, c + 0);
  model.tenant = r.Text(row, c + 1);
  model.display_name = r.Text(row, c + 2);
  model.input_shape = ParseBigintArray(r.View(row, c + 3));
  model.size_bytes = r.Int64(row, c + 4);
  model.sha256 = r.Text(row, c + 5);
  model.created_at = r.TimeFromMicros(row, c + 6);
  return model;
}

DatasetRecord DatasetFromRow(const Result& r, int row, int c) {
  DatasetRecord dataset;
  dataset.id = r.Text(row, c + 0);
  dataset.tenant = r.Text(row, c + 1);
  dataset.display_name = r.Text(row, c + 2);
  dataset.size_bytes = r.Int64(row, c + 3);
  dataset.sha256 = r.Text(row, c + 4);
  dataset.created_at = r.TimeFromMicros(row, c + 5);
  return dataset;
}

std::string EncodeJobSpec(const JobParameters& p) {
  nlohmann::json spec = {
      {"model_id", p.model_id},         {"dataset_id", p.dataset_id},
      {"strategy", p.strategy},         {"target_kind", p.target_kind},
      {"target_ratio", p.target_ratio}, {"finetune_epochs", p.finetune_epochs},
      {"finetune_lr", p.finetune_lr},   {"seed", p.seed},
      {"priority", p.priority},         {"max_attempts", p.max_attempts},
      {"importance", p.importance},     {"search_max_evaluations", p.search_max_evaluations},
      {"search_seconds", p.search_seconds},
      {"time_limit_seconds", p.time_limit_seconds},
      {"round_to", p.round_to},
      {"min_channels", p.min_channels},
      {"group_reduction", p.group_reduction},
      {"normalization", p.normalization},
      {"distillation_alpha", p.distillation_alpha},
      {"distillation_temperature", p.distillation_temperature},
      {"accuracy_floor", p.accuracy_floor},
  };
  return spec.dump();
}

JobParameters DecodeJobSpec(const std::string& json) {
  JobParameters p;
  const nlohmann::json spec = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!spec.is_object()) return p;
  p.model_id = spec.value("model_id", p.model_id);
  p.dataset_id = spec.value("dataset_id", p.dataset_id);
  p.strategy = spec.value("strategy", p.strategy);
  p.target_kind = spec.value("target_kind", p.target_kind);
  p.target_ratio = spec.value("target_ratio", p.target_ratio);
  p.finetune_epochs = spec.value("finetune_epochs", p.finetune_epochs);
  p.finetune_lr = spec.value("finetune_lr", p.finetune_lr);
  p.seed = spec.value("seed", p.seed);
  p.priority = spec.value("priority", p.priority);
  p.max_attempts = spec.value("max_attempts", p.max_attempts);
  p.importance = spec.value("importance", p.importance);
  p.search_max_evaluations = spec.value("search_max_evaluations", p.search_max_evaluations);
  p.search_seconds = spec.value("search_seconds", p.search_seconds);
  p.time_limit_seconds = spec.value("time_limit_seconds", p.time_limit_seconds);
  p.round_to = spec.value("round_to", p.round_to);
  p.min_channels = spec.value("min_channels", p.min_channels);
  p.group_reduction = spec.value("group_reduction", p.group_reduction);
  p.normalization = spec.value("normalization", p.normalization);
  p.distillation_alpha = spec.value("distillation_alpha", p.distillation_alpha);
  p.distillation_temperature = spec.value("distillation_temperature", p.distillation_temperature);
  p.accuracy_floor = spec.value("accuracy_floor", p.accuracy_floor);
  return p;
}

bool SameJobParameters(const JobParameters& a, const JobParameters& b) {
  return a.model_id == b.model_id && a.dataset_id == b.dataset_id && a.strategy == b.strategy &&
         a.target_kind == b.target_kind && a.target_ratio == b.target_ratio &&
         a.finetune_epochs == b.finetune_epochs && a.finetune_lr == b.finetune_lr &&
         a.seed == b.seed && a.priority == b.priority && a.max_attempts == b.max_attempts &&
         a.importance == b.importance && a.search_max_evaluations == b.search_max_evaluations &&
         a.search_seconds == b.search_seconds && a.time_limit_seconds == b.time_limit_seconds &&
         a.round_to == b.round_to && a.min_channels == b.min_channels &&
         a.group_reduction == b.group_reduction && a.normalization == b.normalization &&
         a.distillation_alpha == b.distillation_alpha &&
         a.distillation_temperature == b.distillation_temperature &&
         a.accuracy_floor == b.accuracy_floor;
}

bool LooksLikeUuid(const std::string& text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

}  // namespace prune::db

namespace prune::db {

std::string WithJobEvent(const std::string& update_sql, const std::string& time_sql,
                         const std::string& message_sql) {
  return absl::StrCat(
      "WITH changed AS (", update_sql,
      " RETURNING id, last_event_seq, state, progress, stage, error, error_reason),"
      " event AS (INSERT INTO job_events (job_id, sequence, time, state, progress, stage, message)"
      " SELECT changed.id, changed.last_event_seq, ",
      time_sql, ", changed.state, changed.progress, changed.stage, ", message_sql,
      " FROM changed)"
      " SELECT changed.id FROM changed");
}

}  // namespace prune::db
