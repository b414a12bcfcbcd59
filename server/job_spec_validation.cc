#include "server/job_spec_validation.h"

#include <algorithm>
#include <initializer_list>
#include <iterator>

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/proto_conversion.h"

namespace prune::server {
namespace {

bool OneOf(const std::string& value, std::initializer_list<const char*> allowed) {
  return std::any_of(allowed.begin(), allowed.end(),
                     [&value](const char* a) { return value == a; });
}

absl::Status ValidateChannelSettings(const v1::ChannelSettings& channels,
                                     db::JobParameters* params) {
  if (channels.round_to() < 0 || channels.round_to() > kMaxRoundTo) {
    return absl::InvalidArgumentError(
        absl::StrCat("ROUND_TO_OUT_OF_RANGE: channels.round_to must be in [0, ", kMaxRoundTo,
                     "] (0 or 1: any width), got ", channels.round_to()));
  }
  params->round_to = std::max(1, channels.round_to());
  if (channels.min_channels() < 0 || channels.min_channels() > kMaxMinChannels) {
    return absl::InvalidArgumentError(
        absl::StrCat("MIN_CHANNELS_OUT_OF_RANGE: channels.min_channels must be in [0, ",
                     kMaxMinChannels, "] (0 = 1), got ", channels.min_channels()));
  }
  params->min_channels = std::max(1, channels.min_channels());
  params->group_reduction =
      channels.group_reduction().empty() ? "mean" : channels.group_reduction();
  if (!OneOf(params->group_reduction, {"mean", "sum", "max"})) {
    return absl::InvalidArgumentError(
        absl::StrCat("GROUP_REDUCTION_INVALID: unknown channels.group_reduction '",
                     params->group_reduction, "'; use mean, sum or max"));
  }
  params->normalization = channels.normalization().empty() ? "mean" : channels.normalization();
  if (!OneOf(params->normalization, {"mean", "max", "sum", "none"})) {
    return absl::InvalidArgumentError(
        absl::StrCat("NORMALIZATION_INVALID: unknown channels.normalization '",
                     params->normalization, "'; use mean, max, sum or none"));
  }
  return absl::OkStatus();
}

absl::Status ValidateDistillation(const v1::Job& job, db::JobParameters* params) {
  const double alpha = job.finetune().distillation_alpha();
  const double temperature = job.finetune().distillation_temperature();
  if (!std::isfinite(alpha) || alpha < 0.0 || alpha > 1.0 || !std::isfinite(temperature) ||
      temperature < 0.0 || temperature > 100.0) {
    return absl::InvalidArgumentError(
        absl::StrCat("DISTILLATION_INVALID: finetune.distillation_alpha must be in [0, 1] and "
                     "finetune.distillation_temperature in [0, 100] (0 = 4), got ",
                     alpha, " and ", temperature));
  }
  if (alpha > 0.0 && (job.dataset().empty() || job.finetune().epochs() == 0)) {
    return absl::InvalidArgumentError(
        "DISTILLATION_NEEDS_FINETUNE: distillation happens while fine-tuning: give a dataset "
        "and finetune.epochs > 0");
  }
  params->distillation_alpha = alpha;
  params->distillation_temperature = temperature == 0.0 ? 4.0 : temperature;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ValidatedJobSpec> ValidateJobSpec(const v1::Job& job) {
  ValidatedJobSpec spec;
  if (job.model().empty()) {
    return absl::InvalidArgumentError(
        "MODEL_REQUIRED: job.model must name a model (resource name, id or display name)");
  }
  spec.model_ref = job.model();
  spec.dataset_ref = job.dataset();
  db::JobParameters& params = spec.params;

  const double ratio = job.target().ratio();
  if (!(ratio > 0.0 && ratio < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TARGET_OUT_OF_RANGE: target.ratio is the fraction of the cost to keep and must lie "
        "strictly between 0 and 1 (0.5 halves the FLOPs), got ",
        ratio));
  }
  params.target_ratio = ratio;
  const int32_t latency_batch = job.target().latency_batch_size();
  if (latency_batch < 0 || latency_batch > kMaxLatencyBatchSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("LATENCY_BATCH_SIZE_OUT_OF_RANGE: target.latency_batch_size must be in [0, ",
                     kMaxLatencyBatchSize, "] (0: the default, 32), got ", latency_batch));
  }
  params.latency_batch_size = latency_batch;

  switch (job.target().kind()) {
    case v1::Target::KIND_UNSPECIFIED:
      params.target_kind = TargetKindName(v1::Target::FLOPS);
      break;
    case v1::Target::FLOPS:
    case v1::Target::PARAMS:
    case v1::Target::LATENCY:
      params.target_kind = TargetKindName(job.target().kind());
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("TARGET_KIND_INVALID: unknown target.kind ",
                                                     job.target().kind(),
                                                     "; use FLOPS, PARAMS or LATENCY"));
  }

  switch (job.strategy()) {
    case v1::STRATEGY_UNSPECIFIED:
      params.strategy = StrategyName(v1::UNIFORM);
      break;
    case v1::UNIFORM:
    case v1::GLOBAL:
    case v1::AMC:
    case v1::METAPRUNING:
    case v1::AUTOSLIM:
      params.strategy = StrategyName(job.strategy());
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("STRATEGY_NOT_SUPPORTED: unknown strategy ", job.strategy(),
                       "; use UNIFORM, GLOBAL, AMC, METAPRUNING or AUTOSLIM"));
  }

  static const char* const kImportance[] = {"l1", "l2", "bn_scale", "taylor", "fpgm", "random"};
  params.importance = job.importance().empty() ? "l1" : job.importance();
  if (std::find(std::begin(kImportance), std::end(kImportance), params.importance) ==
      std::end(kImportance)) {
    return absl::InvalidArgumentError(
        absl::StrCat("IMPORTANCE_INVALID: unknown importance '", params.importance,
                     "'; use l1, l2, bn_scale, taylor, fpgm or random"));
  }
  if (params.importance == "taylor" && job.dataset().empty()) {
    return absl::InvalidArgumentError(
        "IMPORTANCE_NEEDS_DATASET: the taylor criterion needs a dataset (gradients)");
  }
  const int32_t max_evaluations = job.search().max_evaluations();
  const double max_seconds = job.search().max_seconds();
  if (max_evaluations < 0 || max_evaluations > 100000 || !std::isfinite(max_seconds) ||
      max_seconds < 0 || max_seconds > 7 * 24 * 3600) {
    return absl::InvalidArgumentError(
        "SEARCH_BUDGET_INVALID: search.max_evaluations must be in [0, 100000] and "
        "search.max_seconds in [0, 604800]");
  }
  params.search_max_evaluations = max_evaluations;
  params.search_seconds = max_seconds;
  const double floor = job.search().accuracy_floor();
  if (!std::isfinite(floor) || floor < 0.0 || floor >= 1.0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SEARCH_BUDGET_INVALID: search.accuracy_floor is a top-1 accuracy in [0, 1) (0: none), "
        "got ",
        floor));
  }
  params.accuracy_floor = floor;

  const int64_t time_limit = job.time_limit_seconds();
  if (time_limit < 0 || time_limit > kMaxJobTimeLimitSeconds) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TIME_LIMIT_OUT_OF_RANGE: time_limit_seconds must be in [0, ", kMaxJobTimeLimitSeconds,
        "] (0 = default ", kDefaultJobTimeLimitSeconds, "), got ", time_limit));
  }
  params.time_limit_seconds = time_limit == 0 ? kDefaultJobTimeLimitSeconds : time_limit;
  // A search that may not finish inside the job's limit would only end as a
  // time-limit failure with nothing to show for it.
  if (max_seconds >= static_cast<double>(params.time_limit_seconds)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SEARCH_BUDGET_INVALID: search.max_seconds (", max_seconds,
        ") must be shorter than the job's time limit (", params.time_limit_seconds, " s)"));
  }

  const int32_t epochs = job.finetune().epochs();
  if (epochs < 0 || epochs > kMaxFinetuneEpochs) {
    return absl::InvalidArgumentError(
        absl::StrCat("FINETUNE_EPOCHS_OUT_OF_RANGE: finetune.epochs must be in [0, ",
                     kMaxFinetuneEpochs, "], got ", epochs));
  }
  params.finetune_epochs = epochs;
  const double lr = job.finetune().learning_rate();
  if (!std::isfinite(lr) || lr < 0.0 || lr > 10.0) {
    return absl::InvalidArgumentError(
        absl::StrCat("FINETUNE_LEARNING_RATE_INVALID: finetune.learning_rate must be in [0, 10] "
                     "(0 = default 0.01), got ",
                     lr));
  }
  params.finetune_lr = lr;
  if (absl::Status s = ValidateDistillation(job, &params); !s.ok()) return s;
  if (absl::Status s = ValidateChannelSettings(job.channels(), &params); !s.ok()) return s;

  if (job.priority() < 0 || job.priority() > kMaxPriority) {
    return absl::InvalidArgumentError(
        absl::StrCat("PRIORITY_OUT_OF_RANGE: priority must be in [0, ", kMaxPriority,
                     "] (0 = default ", kDefaultPriority, "), got ", job.priority()));
  }
  params.priority = job.priority() == 0 ? kDefaultPriority : job.priority();
  params.seed = job.seed();
  return spec;
}

absl::Status ValidateRequestId(const std::string& request_id) {
  if (request_id.size() > kMaxRequestIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "REQUEST_ID_INVALID: request_id must be at most ", kMaxRequestIdBytes, " bytes"));
  }
  // The key is stored as text: libpq passes it as a C string, so "a\0b" and
  // "a\0c" would both become "a" and the second request would meet the first.
  for (char c : request_id) {
    if (absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          "REQUEST_ID_INVALID: request_id must not contain control characters");
    }
  }
  return absl::OkStatus();
}

}  // namespace prune::server
