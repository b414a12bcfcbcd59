#include "common/db/job_rows.h"

#include <cctype>
#include <tuple>

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

namespace {

// One JobParameters field and its key in the jobs.spec JSON.
template <typename T>
struct JobField {
  const char* key;
  T JobParameters::*member;
};

// Every job option, once: encoding, decoding and the idempotency comparison
// all walk this list, so a new option is one line here (plus records.h).
constexpr auto kJobFields = std::make_tuple(
    JobField<std::string>{"model_id", &JobParameters::model_id},
    JobField<std::string>{"dataset_id", &JobParameters::dataset_id},
    JobField<std::string>{"strategy", &JobParameters::strategy},
    JobField<std::string>{"target_kind", &JobParameters::target_kind},
    JobField<double>{"target_ratio", &JobParameters::target_ratio},
    JobField<int32_t>{"latency_batch_size", &JobParameters::latency_batch_size},
    JobField<int32_t>{"finetune_epochs", &JobParameters::finetune_epochs},
    JobField<double>{"finetune_lr", &JobParameters::finetune_lr},
    JobField<uint64_t>{"seed", &JobParameters::seed},
    JobField<int32_t>{"priority", &JobParameters::priority},
    JobField<int32_t>{"max_attempts", &JobParameters::max_attempts},
    JobField<std::string>{"importance", &JobParameters::importance},
    JobField<int32_t>{"search_max_evaluations", &JobParameters::search_max_evaluations},
    JobField<double>{"search_seconds", &JobParameters::search_seconds},
    JobField<int64_t>{"time_limit_seconds", &JobParameters::time_limit_seconds},
    JobField<int32_t>{"round_to", &JobParameters::round_to},
    JobField<int32_t>{"min_channels", &JobParameters::min_channels},
    JobField<std::string>{"group_reduction", &JobParameters::group_reduction},
    JobField<std::string>{"normalization", &JobParameters::normalization},
    JobField<double>{"distillation_alpha", &JobParameters::distillation_alpha},
    JobField<double>{"distillation_temperature", &JobParameters::distillation_temperature},
    JobField<double>{"accuracy_floor", &JobParameters::accuracy_floor});

template <typename Visit>
void ForEachJobField(Visit&& visit) {
  std::apply([&](const auto&... field) { (visit(field), ...); }, kJobFields);
}

}  // namespace

std::string EncodeJobSpec(const JobParameters& p) {
  nlohmann::json spec = nlohmann::json::object();
  ForEachJobField([&](const auto& field) { spec[field.key] = p.*field.member; });
  return spec.dump();
}

JobParameters DecodeJobSpec(const std::string& json) {
  JobParameters p;
  const nlohmann::json spec = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!spec.is_object()) return p;
  // A key missing from an older row keeps the field's default.
  ForEachJobField(
      [&](const auto& field) { p.*field.member = spec.value(field.key, p.*field.member); });
  return p;
}

bool SameJobParameters(const JobParameters& a, const JobParameters& b) {
  bool same = true;
  ForEachJobField([&](const auto& field) { same = same && a.*field.member == b.*field.member; });
  return same;
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
