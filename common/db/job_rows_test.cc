// The jobs.spec JSON of JobParameters: every field survives a round trip,
// and the idempotency comparison notices a change in any one of them.
#include "common/db/job_rows.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace prune::db {
namespace {

// Sets every field away from its default (and from the other fields').
JobParameters AllFieldsSet() {
  JobParameters p;
  p.model_id = "m-1";
  p.dataset_id = "d-1";
  p.strategy = "amc";
  p.target_kind = "params";
  p.target_ratio = 0.3;
  p.latency_batch_size = 1;
  p.finetune_epochs = 2;
  p.finetune_lr = 0.02;
  p.seed = 18446744073709551615ULL;  // uint64 max: must not pass through a double
  p.priority = 7;
  p.max_attempts = 5;
  p.importance = "taylor";
  p.search_max_evaluations = 40;
  p.search_seconds = 12.5;
  p.time_limit_seconds = 3600;
  p.round_to = 8;
  p.min_channels = 4;
  p.group_reduction = "max";
  p.normalization = "sum";
  p.distillation_alpha = 0.7;
  p.distillation_temperature = 2.0;
  p.accuracy_floor = 0.9;
  return p;
}

// One mutation per field; listed here on purpose, apart from job_rows.cc's
// table, so that a field missing from the table fails these tests.
std::vector<std::pair<std::string, std::function<void(JobParameters&)>>> OneFieldChanges() {
  return {
      {"model_id", [](JobParameters& p) { p.model_id += "x"; }},
      {"dataset_id", [](JobParameters& p) { p.dataset_id += "x"; }},
      {"strategy", [](JobParameters& p) { p.strategy = "global"; }},
      {"target_kind", [](JobParameters& p) { p.target_kind = "flops"; }},
      {"target_ratio", [](JobParameters& p) { p.target_ratio = 0.31; }},
      {"latency_batch_size", [](JobParameters& p) { p.latency_batch_size = 2; }},
      {"finetune_epochs", [](JobParameters& p) { p.finetune_epochs = 3; }},
      {"finetune_lr", [](JobParameters& p) { p.finetune_lr = 0.03; }},
      {"seed", [](JobParameters& p) { p.seed -= 1; }},
      {"priority", [](JobParameters& p) { p.priority = 8; }},
      {"max_attempts", [](JobParameters& p) { p.max_attempts = 6; }},
      {"importance", [](JobParameters& p) { p.importance = "l2"; }},
      {"search_max_evaluations", [](JobParameters& p) { p.search_max_evaluations = 41; }},
      {"search_seconds", [](JobParameters& p) { p.search_seconds = 13; }},
      {"time_limit_seconds", [](JobParameters& p) { p.time_limit_seconds = 3601; }},
      {"round_to", [](JobParameters& p) { p.round_to = 16; }},
      {"min_channels", [](JobParameters& p) { p.min_channels = 5; }},
      {"group_reduction", [](JobParameters& p) { p.group_reduction = "sum"; }},
      {"normalization", [](JobParameters& p) { p.normalization = "max"; }},
      {"distillation_alpha", [](JobParameters& p) { p.distillation_alpha = 0.6; }},
      {"distillation_temperature", [](JobParameters& p) { p.distillation_temperature = 3; }},
      {"accuracy_floor", [](JobParameters& p) { p.accuracy_floor = 0.8; }},
  };
}

TEST(JobSpecJson, EveryFieldSurvivesARoundTrip) {
  const JobParameters p = AllFieldsSet();
  const JobParameters back = DecodeJobSpec(EncodeJobSpec(p));
  EXPECT_TRUE(SameJobParameters(p, back)) << EncodeJobSpec(p) << "\n" << EncodeJobSpec(back);
  EXPECT_EQ(back.seed, p.seed);
  for (const auto& [name, change] : OneFieldChanges()) {
    JobParameters changed = p;
    change(changed);
    const JobParameters changed_back = DecodeJobSpec(EncodeJobSpec(changed));
    EXPECT_FALSE(SameJobParameters(p, changed_back)) << name << " is lost by the JSON";
  }
}

TEST(JobSpecJson, SameJobParametersSeesEachField) {
  const JobParameters p = AllFieldsSet();
  EXPECT_TRUE(SameJobParameters(p, p));
  for (const auto& [name, change] : OneFieldChanges()) {
    JobParameters changed = p;
    change(changed);
    EXPECT_FALSE(SameJobParameters(p, changed)) << name;
  }
}

TEST(JobSpecJson, MissingKeysKeepDefaultsAndJunkGivesDefaults) {
  const JobParameters defaults;
  JobParameters old_row = DecodeJobSpec(R"({"model_id": "m-1", "target_ratio": 0.25})");
  EXPECT_EQ(old_row.model_id, "m-1");
  EXPECT_EQ(old_row.target_ratio, 0.25);
  EXPECT_EQ(old_row.round_to, defaults.round_to);
  EXPECT_EQ(old_row.distillation_temperature, defaults.distillation_temperature);
  EXPECT_TRUE(SameJobParameters(DecodeJobSpec("not json"), defaults));
}

}  // namespace
}  // namespace prune::db
