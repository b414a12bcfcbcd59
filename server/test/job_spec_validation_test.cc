#include "server/job_spec_validation.h"

#include <cmath>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace prune::server {
namespace {

using ::testing::StartsWith;

v1::Job ValidJob() {
  v1::Job job;
  job.set_model("resnet");
  job.mutable_target()->set_ratio(0.5);
  return job;
}

void ExpectReason(const v1::Job& job, const std::string& reason) {
  absl::StatusOr<ValidatedJobSpec> spec = ValidateJobSpec(job);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()), StartsWith(reason + ": "));
}

TEST(JobSpecValidation, AppliesDefaults) {
  absl::StatusOr<ValidatedJobSpec> spec = ValidateJobSpec(ValidJob());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->model_ref, "resnet");
  EXPECT_EQ(spec->dataset_ref, "");
  EXPECT_EQ(spec->params.strategy, "uniform");
  EXPECT_EQ(spec->params.target_kind, "flops");
  EXPECT_EQ(spec->params.target_ratio, 0.5);
  EXPECT_EQ(spec->params.priority, kDefaultPriority);
  EXPECT_EQ(spec->params.finetune_epochs, 0);
}

TEST(JobSpecValidation, KeepsExplicitSettings) {
  v1::Job job = ValidJob();
  job.set_dataset("fmnist");
  job.mutable_target()->set_kind(v1::Target::PARAMS);
  job.set_strategy(v1::UNIFORM);
  job.mutable_finetune()->set_epochs(3);
  job.mutable_finetune()->set_learning_rate(0.05);
  job.set_seed(42);
  job.set_priority(7);
  absl::StatusOr<ValidatedJobSpec> spec = ValidateJobSpec(job);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->dataset_ref, "fmnist");
  EXPECT_EQ(spec->params.target_kind, "params");
  EXPECT_EQ(spec->params.finetune_epochs, 3);
  EXPECT_EQ(spec->params.finetune_lr, 0.05);
  EXPECT_EQ(spec->params.seed, 42u);
  EXPECT_EQ(spec->params.priority, 7);
}

TEST(JobSpecValidation, ModelIsRequired) {
  v1::Job job = ValidJob();
  job.clear_model();
  ExpectReason(job, "MODEL_REQUIRED");
}

TEST(JobSpecValidation, TargetRatioMustLieStrictlyInsideZeroOne) {
  for (double ratio :
       {0.0, 1.0, -0.1, 1.5, std::nan(""), std::numeric_limits<double>::infinity()}) {
    v1::Job job = ValidJob();
    job.mutable_target()->set_ratio(ratio);
    ExpectReason(job, "TARGET_OUT_OF_RANGE");
  }
  v1::Job no_target = ValidJob();
  no_target.clear_target();
  ExpectReason(no_target, "TARGET_OUT_OF_RANGE");
}

TEST(JobSpecValidation, EveryStrategyIsServedByName) {
  const std::pair<v1::Strategy, const char*> strategies[] = {{v1::UNIFORM, "uniform"},
                                                             {v1::GLOBAL, "global"},
                                                             {v1::AMC, "amc"},
                                                             {v1::METAPRUNING, "metapruning"},
                                                             {v1::AUTOSLIM, "autoslim"}};
  for (const auto& [strategy, name] : strategies) {
    v1::Job job = ValidJob();
    job.set_strategy(strategy);
    absl::StatusOr<ValidatedJobSpec> spec = ValidateJobSpec(job);
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ(spec->params.strategy, name);
  }
  v1::Job unknown = ValidJob();
  unknown.set_strategy(static_cast<v1::Strategy>(99));
  ExpectReason(unknown, "STRATEGY_NOT_SUPPORTED");
}

TEST(JobSpecValidation, ImportanceAndSearchBudget) {
  v1::Job job = ValidJob();
  job.set_importance("fpgm");
  job.mutable_search()->set_max_evaluations(40);
  job.mutable_search()->set_max_seconds(30);
  absl::StatusOr<ValidatedJobSpec> spec = ValidateJobSpec(job);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->params.importance, "fpgm");
  EXPECT_EQ(spec->params.search_max_evaluations, 40);
  EXPECT_EQ(spec->params.search_seconds, 30);

  v1::Job unknown = ValidJob();
  unknown.set_importance("magic");
  ExpectReason(unknown, "IMPORTANCE_INVALID");
  v1::Job taylor = ValidJob();
  taylor.set_importance("taylor");
  taylor.clear_dataset();
  ExpectReason(taylor, "IMPORTANCE_NEEDS_DATASET");
  v1::Job budget = ValidJob();
  budget.mutable_search()->set_max_evaluations(-1);
  ExpectReason(budget, "SEARCH_BUDGET_INVALID");
  v1::Job floor = ValidJob();
  floor.mutable_search()->set_accuracy_floor(0.9);
  absl::StatusOr<ValidatedJobSpec> floored = ValidateJobSpec(floor);
  ASSERT_TRUE(floored.ok()) << floored.status();
  EXPECT_EQ(floored->params.accuracy_floor, 0.9);
  floor.mutable_search()->set_accuracy_floor(1.5);
  ExpectReason(floor, "SEARCH_BUDGET_INVALID");
  floor.mutable_search()->set_accuracy_floor(std::nan(""));
  ExpectReason(floor, "SEARCH_BUDGET_INVALID");
}

TEST(JobSpecValidation, TimeLimit) {
  absl::StatusOr<ValidatedJobSpec> defaulted = ValidateJobSpec(ValidJob());
  ASSERT_TRUE(defaulted.ok()) << defaulted.status();
  EXPECT_EQ(defaulted->params.time_limit_seconds, kDefaultJobTimeLimitSeconds);

  v1::Job job = ValidJob();
  job.set_time_limit_seconds(90);
  absl::StatusOr<ValidatedJobSpec> explicit_limit = ValidateJobSpec(job);
  ASSERT_TRUE(explicit_limit.ok()) << explicit_limit.status();
  EXPECT_EQ(explicit_limit->params.time_limit_seconds, 90);

  job.set_time_limit_seconds(-1);
  ExpectReason(job, "TIME_LIMIT_OUT_OF_RANGE");
  job.set_time_limit_seconds(kMaxJobTimeLimitSeconds + 1);
  ExpectReason(job, "TIME_LIMIT_OUT_OF_RANGE");

  // The search budget must leave room inside the limit.
  job.set_time_limit_seconds(60);
  job.mutable_search()->set_max_seconds(60);
  ExpectReason(job, "SEARCH_BUDGET_INVALID");
  job.mutable_search()->set_max_seconds(59);
  EXPECT_TRUE(ValidateJobSpec(job).ok());
}

TEST(JobSpecValidation, ChannelSettings) {
  absl::StatusOr<ValidatedJobSpec> defaults = ValidateJobSpec(ValidJob());
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->params.round_to, 1);
  EXPECT_EQ(defaults->params.min_channels, 1);
  EXPECT_EQ(defaults->params.group_reduction, "mean");
  EXPECT_EQ(defaults->params.normalization, "mean");

  v1::Job job = ValidJob();
  job.mutable_channels()->set_round_to(8);
  job.mutable_channels()->set_min_channels(4);
  job.mutable_channels()->set_group_reduction("max");
  job.mutable_channels()->set_normalization("none");
  absl::StatusOr<ValidatedJobSpec> spec = ValidateJobSpec(job);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->params.round_to, 8);
  EXPECT_EQ(spec->params.min_channels, 4);
  EXPECT_EQ(spec->params.group_reduction, "max");
  EXPECT_EQ(spec->params.normalization, "none");

  v1::Job bad = ValidJob();
  bad.mutable_channels()->set_round_to(kMaxRoundTo + 1);
  ExpectReason(bad, "ROUND_TO_OUT_OF_RANGE");
  bad = ValidJob();
  bad.mutable_channels()->set_min_channels(-2);
  ExpectReason(bad, "MIN_CHANNELS_OUT_OF_RANGE");
  bad = ValidJob();
  bad.mutable_channels()->set_group_reduction("median");
  ExpectReason(bad, "GROUP_REDUCTION_INVALID");
  bad = ValidJob();
  bad.mutable_channels()->set_normalization("z");
  ExpectReason(bad, "NORMALIZATION_INVALID");
}

TEST(JobSpecValidation, Distillation) {
  v1::Job job = ValidJob();
  job.set_dataset("fmnist");
  job.mutable_finetune()->set_epochs(1);
  job.mutable_finetune()->set_distillation_alpha(0.5);
  absl::StatusOr<ValidatedJobSpec> spec = ValidateJobSpec(job);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->params.distillation_alpha, 0.5);
  EXPECT_EQ(spec->params.distillation_temperature, 4.0);  // the default

  job.mutable_finetune()->set_distillation_alpha(1.5);
  ExpectReason(job, "DISTILLATION_INVALID");
  job.mutable_finetune()->set_distillation_alpha(std::nan(""));
  ExpectReason(job, "DISTILLATION_INVALID");
  job.mutable_finetune()->set_distillation_alpha(0.5);
  job.mutable_finetune()->set_distillation_temperature(-1);
  ExpectReason(job, "DISTILLATION_INVALID");
  job.mutable_finetune()->set_distillation_temperature(2);
  job.mutable_finetune()->set_epochs(0);
  ExpectReason(job, "DISTILLATION_NEEDS_FINETUNE");
}

TEST(JobSpecValidation, LatencyTargetIsAcceptedWithARatioInsideZeroOne) {
  v1::Job job = ValidJob();
  job.mutable_target()->set_kind(v1::Target::LATENCY);
  job.mutable_target()->set_ratio(0.4);
  absl::StatusOr<ValidatedJobSpec> spec = ValidateJobSpec(job);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->params.target_kind, "latency");
  EXPECT_EQ(spec->params.target_ratio, 0.4);
  for (double ratio : {0.0, 1.0, 2.0, -0.5, std::nan("")}) {
    job.mutable_target()->set_ratio(ratio);
    ExpectReason(job, "TARGET_OUT_OF_RANGE");
  }
}

TEST(JobSpecValidation, LatencyBatchSize) {
  v1::Job job = ValidJob();
  absl::StatusOr<ValidatedJobSpec> defaults = ValidateJobSpec(job);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->params.latency_batch_size, 0);  // the engine's default
  job.mutable_target()->set_kind(v1::Target::LATENCY);
  job.mutable_target()->set_latency_batch_size(1);
  absl::StatusOr<ValidatedJobSpec> spec = ValidateJobSpec(job);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->params.latency_batch_size, 1);
  for (int32_t bad : {-1, kMaxLatencyBatchSize + 1}) {
    job.mutable_target()->set_latency_batch_size(bad);
    ExpectReason(job, "LATENCY_BATCH_SIZE_OUT_OF_RANGE");
  }
}

TEST(JobSpecValidation, UnknownTargetKind) {
  v1::Job job = ValidJob();
  job.mutable_target()->set_kind(static_cast<v1::Target::Kind>(42));
  ExpectReason(job, "TARGET_KIND_INVALID");
}

TEST(JobSpecValidation, FinetuneBounds) {
  v1::Job job = ValidJob();
  job.mutable_finetune()->set_epochs(101);
  ExpectReason(job, "FINETUNE_EPOCHS_OUT_OF_RANGE");
  job.mutable_finetune()->set_epochs(-1);
  ExpectReason(job, "FINETUNE_EPOCHS_OUT_OF_RANGE");
  job.mutable_finetune()->set_epochs(100);
  EXPECT_TRUE(ValidateJobSpec(job).ok());
  job.mutable_finetune()->set_learning_rate(-1);
  ExpectReason(job, "FINETUNE_LEARNING_RATE_INVALID");
}

TEST(JobSpecValidation, PriorityBounds) {
  v1::Job job = ValidJob();
  job.set_priority(-1);
  ExpectReason(job, "PRIORITY_OUT_OF_RANGE");
  job.set_priority(kMaxPriority + 1);
  ExpectReason(job, "PRIORITY_OUT_OF_RANGE");
}

TEST(JobSpecValidation, RequestIdLength) {
  EXPECT_TRUE(ValidateRequestId("").ok());
  EXPECT_TRUE(ValidateRequestId(std::string(kMaxRequestIdBytes, 'a')).ok());
  EXPECT_EQ(ValidateRequestId(std::string(kMaxRequestIdBytes + 1, 'a')).code(),
            absl::StatusCode::kInvalidArgument);
}

// Found by tests/fuzz/request_validation_fuzzer: a NUL cut the key short in
// PostgreSQL, so "a\0b" and "a\0c" were the same idempotency key.
TEST(JobSpecValidation, RequestIdWithoutControlCharacters) {
  EXPECT_EQ(ValidateRequestId(std::string("a\0b", 3)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateRequestId("a\nb").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateRequestId("retry-7 ok/é").ok());
}

}  // namespace
}  // namespace prune::server
