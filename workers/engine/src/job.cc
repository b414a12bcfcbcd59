#include "prune/engine/job.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <optional>
#include <string>

#include "analysis.h"
#include "cost_model.h"
#include "dataset.h"
#include "engine_error.h"
#include "evaluate.h"
#include "finetune.h"
#include "global_strategy.h"
#include "importance.h"
#include "inference_optimization.h"
#include "job_common.h"
#include "json_writer.h"
#include "latency_table_builder.h"
#include "measure.h"
#include "search/search_job.h"
#include "surgery.h"
#include "uniform_strategy.h"

namespace prune::engine {
namespace {

void ValidateSpec(const JobSpec& spec) {
  auto invalid = [](const std::string& m) { throw EngineError("INVALID_ARGUMENT", m); };
  if (spec.model_path.empty()) invalid("model_path is empty");
  if (spec.output_model_path.empty()) invalid("output_model_path is empty");
  ValidateInputShape(spec.input_shape);
  if (!std::isfinite(spec.target_ratio) || spec.target_ratio <= 0 || spec.target_ratio >= 1) {
    invalid("target ratio must be in (0, 1), got " + std::to_string(spec.target_ratio));
  }
  if (spec.strategy != "uniform" && spec.strategy != "global" &&
      !search::IsSearchStrategy(spec.strategy)) {
    invalid("unknown strategy '" + spec.strategy + "'");
  }
  if (search::IsSearchStrategy(spec.strategy) && spec.dataset_path.empty()) {
    invalid("strategy '" + spec.strategy + "' needs a dataset");
  }
  if (!CostModel::IsKnownKind(spec.target_kind)) {
    invalid("unknown target kind '" + spec.target_kind + "' (flops, params or latency)");
  }
  if (spec.target_kind == "latency" && spec.latency_batch_size < 1) {
    invalid("a latency target needs a positive latency_batch_size");
  }
  if (spec.latency_table_grid < 1 || spec.latency_table_grid > 64) {
    invalid("latency_table_grid must be in [1, 64]");
  }
  if (spec.finetune_epochs < 0 || spec.finetune_epochs > 10000) invalid("bad finetune_epochs");
  if (!std::isfinite(spec.finetune_lr) || spec.finetune_lr <= 0) invalid("bad finetune_lr");
  if (spec.batch_size < 1) invalid("batch_size must be positive");
  if (spec.calibration_batches < 0) invalid("calibration_batches must not be negative");
  if (spec.latency_batch_size < 0 || spec.latency_runs < 1) invalid("bad latency settings");
  if (!IsKnownImportance(spec.importance)) {
    invalid("unknown importance '" + spec.importance +
            "' (l1, l2, bn_scale, taylor, fpgm, random)");
  }
  if (spec.importance == "taylor" && spec.dataset_path.empty()) {
    invalid("importance 'taylor' needs a dataset");
  }
  if (spec.round_to < 1 || spec.min_channels < 1) invalid("round_to and min_channels must be >= 1");
  if (spec.taylor_batches < 1) invalid("taylor_batches must be positive");
  if (!std::isfinite(spec.kd_alpha) || spec.kd_alpha < 0 || spec.kd_alpha > 1) {
    invalid("kd_alpha must be in [0, 1]");
  }
  if (!std::isfinite(spec.kd_temperature) || spec.kd_temperature <= 0) {
    invalid("kd_temperature must be positive");
  }
}

torch::Device ResolveDevice(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::kCUDA : torch::kCPU;
  std::optional<torch::Device> device;
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    throw EngineError("INVALID_ARGUMENT", "unknown device '" + name + "'");
  }
  if (device->is_cuda() && !torch::cuda::is_available()) {
    throw EngineError("INVALID_ARGUMENT",
                      "device '" + name + "' requested but CUDA is unavailable");
  }
  if (!device->is_cpu() && !device->is_cuda()) {
    throw EngineError("INVALID_ARGUMENT", "unsupported device '" + name + "'");
  }
  return *device;
}

// The last non-empty line of a LibTorch error: a TorchScript interpreter
// error puts the code traceback first and the reason last.
std::string LastLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  const size_t newline = text.rfind('\n');
  return newline == std::string::npos ? text : text.substr(newline + 1);
}

struct Measurement {
  ModelCost cost;
  std::optional<double> top1;
  std::optional<double> latency_ms;
  std::optional<double> optimized_latency_ms;  // frozen + optimize_for_inference
};

void WriteMeasurement(JsonWriter& json, const Measurement& m) {
  json.BeginObject();
  json.Key("macs").Int(m.cost.macs);
  json.Key("params").Int(m.cost.params);
  json.Key("top1").Number(m.top1);
  json.Key("latency_ms").Number(m.latency_ms);
  json.Key("optimized_latency_ms").Number(m.optimized_latency_ms);
  json.EndObject();
}

std::optional<double> Ratio(std::optional<double> a, std::optional<double> b) {
  if (!a || !b || *b == 0) return std::nullopt;
  return *a / *b;
}

// "latency_prediction": the table (how it was obtained) and the predicted
// latency ratio next to the measured one, so users see how good the
// prediction was.
void WriteLatencyPrediction(JsonWriter& json, const LatencyTableResult& table,
                            const CostModel& cost, const KeepCounts& keep,
                            std::optional<double> measured_before_ms,
                            std::optional<double> measured_after_ms) {
  const LatencyTable& t = *table.table;
  const double predicted_after = cost.Cost(keep);
  json.BeginObject();
  json.Key("table").BeginObject();
  json.Key("device").String(t.key.device);
  json.Key("batch_size").Int(t.key.batch_size);
  json.Key("torch_version").String(t.key.torch_version);
  json.Key("grid_points").Int(t.key.grid_points);
  json.Key("model_fingerprint").String(t.key.model_fingerprint);
  json.Key("layers_timed").Int(static_cast<int64_t>(t.layers.size()));
  json.Key("model_ms").Number(t.model_ms);
  json.Key("remainder_ms").Number(t.remainder_ms);
  json.Key("from_cache").Bool(table.from_cache);
  json.Key("build_seconds").Number(table.build_seconds);
  json.Key("measurements").Int(table.measurements);
  json.EndObject();
  json.Key("predicted_ms_before").Number(cost.FullCost());
  json.Key("predicted_ms_after").Number(predicted_after);
  json.Key("predicted_ratio").Number(predicted_after / cost.FullCost());
  json.Key("measured_ratio").Number(Ratio(measured_after_ms, measured_before_ms));
  json.EndObject();
}

class JobRunner {
 public:
  JobRunner(const JobSpec& spec, const std::function<void(const Progress&)>& on_progress,
            const CancelToken& cancel)
      : spec_(spec), on_progress_(on_progress), cancel_(cancel) {}

  JobOutcome Run();

 private:
  void Stage(const std::string& stage, double fraction, const std::string& message = "") {
    ThrowIfCancelled(cancel_);
    if (on_progress_) on_progress_(Progress{stage, fraction, message});
  }
  std::optional<double> Latency(torch::jit::Module& module) {
    if (spec_.latency_batch_size == 0) return std::nullopt;
    return MeasureLatencyMs(module, spec_.input_shape, spec_.latency_batch_size, spec_.latency_runs,
                            device_);
  }
  // Latency of the model as deployed (inference_optimization.h). A model
  // LibTorch cannot freeze or optimise, or whose optimised outputs differ,
  // gets no number and the reason goes to the report; once the original
  // failed, the pruned model is not tried.
  std::optional<double> OptimizedLatency(const torch::jit::Module& module) {
    if (spec_.latency_batch_size == 0 || !spec_.optimized_latency || optimized_error_) {
      return std::nullopt;
    }
    try {
      std::vector<int64_t> shape = spec_.input_shape;
      shape[0] = 2;
      auto generator = at::detail::createCPUGenerator(spec_.seed);
      torch::Tensor check_input = at::randn(shape, generator).to(device_);
      torch::jit::Module optimized = OptimizedForInference(module, check_input);
      return MeasureLatencyMs(optimized, spec_.input_shape, spec_.latency_batch_size,
                              spec_.latency_runs, device_);
    } catch (const EngineError& e) {
      optimized_error_ = e.what();
    } catch (const c10::Error& e) {
      optimized_error_ = LastLine(e.what_without_backtrace());
    } catch (const std::exception& e) {
      optimized_error_ = LastLine(e.what());
    }
    return std::nullopt;
  }

  const JobSpec& spec_;
  const std::function<void(const Progress&)>& on_progress_;
  const CancelToken& cancel_;
  torch::Device device_{torch::kCPU};
  std::optional<std::string> optimized_error_;
};

JobOutcome JobRunner::Run() {
  Stage("validate", 0.0);
  ValidateSpec(spec_);
  device_ = ResolveDevice(spec_.device);

  Stage("load", 0.02, spec_.model_path);
  torch::jit::Module original = LoadModel(spec_.model_path);
  original.eval();
  std::optional<DatasetSplit> split;
  if (!spec_.dataset_path.empty()) {
    split = SplitDataset(LoadDataset(spec_.dataset_path, spec_.input_shape));
  }

  Stage("analyze", 0.05);
  ModelAnalysis analysis = AnalyzeModel(original, spec_.input_shape);
  const KeepCounts full = FullKeepCounts(analysis);

  Stage("measure_before", 0.1);
  original.to(device_);
  Measurement before{ComputeCost(analysis, full), std::nullopt, std::nullopt};
  // One pass over the evaluation split per model state gives top-1 and
  // top-5 together (original here, pruned in "evaluate", fine-tuned in
  // "measure_after"); the worker counts exactly these stages as evaluations.
  std::optional<Accuracy> top_before, top_after;
  if (split) {
    top_before = TopKAccuracy(original, split->eval, spec_.batch_size, device_, cancel_);
    before.top1 = top_before->top1;
  }
  before.latency_ms = Latency(original);
  before.optimized_latency_ms = OptimizedLatency(original);

  // The cost the target bounds; a latency target first needs the model's
  // latency table (cached per model and device).
  std::optional<LatencyTableResult> latency_table;
  std::optional<CostModel> cost;
  if (spec_.target_kind == "latency") {
    Stage("latency_table", 0.12, "device " + device_.str());
    LatencyTableOptions table_options;
    table_options.batch_size = spec_.latency_batch_size;
    table_options.grid_points = spec_.latency_table_grid;
    table_options.model_runs = spec_.latency_runs;
    table_options.device = device_;
    table_options.cache_dir = spec_.latency_table_cache_dir;
    table_options.on_progress = [&](double f, const std::string& m) {
      Stage("latency_table", 0.12 + 0.12 * f, m);
    };
    latency_table = LoadOrBuildLatencyTable(original, analysis, table_options, cancel_);
    cost.emplace(analysis, latency_table->table);
  } else {
    cost.emplace(analysis, spec_.target_kind);
  }

  Stage("prune", 0.25, "strategy " + spec_.strategy);
  // Channel scores (importance settings of the spec); UNIFORM / GLOBAL widths.
  std::vector<torch::Tensor> scores =
      ScoreForJob(spec_, original, analysis, split ? &split->train : nullptr, device_, cancel_);
  std::optional<search::SearchResult> searched;  // search strategies (src/search)
  torch::jit::Module weights_source = original;  // PruningNet may substitute generated weights
  if (search::IsSearchStrategy(spec_.strategy)) {
    searched = search::RunSearchForJob(
        spec_, original, analysis, *split, device_, cancel_, *cost,
        [&](double f, const std::string& m) { Stage("search", 0.25 + 0.05 * f, m); }, &scores,
        &weights_source);
  }
  KeepCounts keep = searched ? searched->keep : BaselineKeepCounts(spec_, analysis, scores, *cost);
  PruningPlan plan = SelectChannelsByScores(analysis, keep, scores);
  torch::jit::Module pruned = ApplyPlan(weights_source, analysis, plan);
  pruned.eval();

  std::optional<double> top1_pruned;  // before fine-tuning
  if (split) {
    if (spec_.calibration_batches > 0) {
      Stage("calibrate", 0.3);
      RecalibrateBatchNorm(pruned, analysis, split->train, spec_.batch_size,
                           spec_.calibration_batches, device_, cancel_);
    }
    Stage("evaluate", 0.35);
    top_after = TopKAccuracy(pruned, split->eval, spec_.batch_size, device_, cancel_);
    top1_pruned = top_after->top1;
    if (spec_.finetune_epochs > 0) {
      Stage("finetune", 0.4);
      FineTuneOptions options;
      options.epochs = spec_.finetune_epochs;
      options.lr = spec_.finetune_lr;
      options.batch_size = spec_.batch_size;
      options.seed = spec_.seed;
      options.teacher = &original;
      options.kd_alpha = spec_.kd_alpha;
      options.kd_temperature = spec_.kd_temperature;
      FineTune(pruned, analysis, split->train, options, device_, cancel_,
               [&](int epoch, double loss) {
                 Stage("finetune", 0.4 + 0.45 * (epoch + 1) / spec_.finetune_epochs,
                       "epoch " + std::to_string(epoch + 1) + " loss " + std::to_string(loss));
               });
    }
  }

  Stage("measure_after", 0.88);
  Measurement after{ComputeCost(analysis, keep), std::nullopt, std::nullopt};
  // Re-analysing the pruned model checks that it runs and that the analytic
  // cost matches the real one.
  {
    torch::jit::Module check = pruned.clone();
    check.to(torch::kCPU);
    ModelAnalysis reanalysed = AnalyzeModel(check, spec_.input_shape);
    int64_t real_macs = ComputeCost(reanalysed, FullKeepCounts(reanalysed)).macs;
    if (real_macs != after.cost.macs) {
      throw EngineError("INTERNAL", "pruned model has " + std::to_string(real_macs) +
                                        " MACs, expected " + std::to_string(after.cost.macs));
    }
  }
  if (split) {
    // Without fine-tuning the "evaluate" result already describes the model.
    if (spec_.finetune_epochs > 0) {
      top_after = TopKAccuracy(pruned, split->eval, spec_.batch_size, device_, cancel_);
    }
    after.top1 = top_after->top1;
  }
  after.latency_ms = Latency(pruned);
  after.optimized_latency_ms = OptimizedLatency(pruned);
  // Label-free fidelity to the original (eval split, or 16 seeded random
  // inputs when there is no dataset).
  std::optional<Fidelity> fidelity;
  if (original.forward({torch::zeros(spec_.input_shape, torch::TensorOptions().device(device_))})
          .isTensor()) {
    torch::Tensor fidelity_inputs;
    if (split) {
      fidelity_inputs = split->eval.inputs;
    } else {
      std::vector<int64_t> shape = spec_.input_shape;
      shape[0] = 16;
      auto generator = at::detail::createCPUGenerator(spec_.seed);
      fidelity_inputs = at::randn(shape, generator);
    }
    fidelity =
        OutputFidelity(original, pruned, fidelity_inputs, spec_.batch_size, device_, cancel_);
  }

  Stage("save", 0.95, spec_.output_model_path);
  pruned.to(torch::kCPU);
  try {
    pruned.save(spec_.output_model_path);
  } catch (const c10::Error& e) {
    throw EngineError("INTERNAL", "cannot write '" + spec_.output_model_path +
                                      "': " + e.what_without_backtrace());
  }

  JobOutcome outcome;
  outcome.macs_ratio = static_cast<double>(after.cost.macs) / static_cast<double>(before.cost.macs);
  JsonWriter json;
  json.BeginObject();
  json.Key("engine_version").String(EngineVersion());
  json.Key("device").String(device_.str());
  json.Key("strategy").String(spec_.strategy);
  json.Key("target").BeginObject().Key("kind").String(spec_.target_kind);
  json.Key("ratio").Number(spec_.target_ratio).EndObject();
  json.Key("seed").Int(static_cast<int64_t>(spec_.seed));
  json.Key("finetune").BeginObject().Key("epochs").Int(spec_.finetune_epochs);
  json.Key("lr").Number(spec_.finetune_lr).EndObject();
  json.Key("before");
  WriteMeasurement(json, before);
  json.Key("after_pruning_before_finetune").BeginObject().Key("top1").Number(top1_pruned);
  json.EndObject();
  json.Key("after");
  WriteMeasurement(json, after);
  json.Key("macs_ratio").Number(outcome.macs_ratio);
  json.Key("params_ratio")
      .Number(static_cast<double>(after.cost.params) / static_cast<double>(before.cost.params));
  json.Key("latency_speedup").Number(Ratio(before.latency_ms, after.latency_ms));
  json.Key("optimized_latency_speedup")
      .Number(Ratio(before.optimized_latency_ms, after.optimized_latency_ms));
  if (optimized_error_) json.Key("optimized_latency_error").String(*optimized_error_);
  json.Key("accuracy_drop")
      .Number(before.top1 && after.top1 ? std::optional<double>(*before.top1 - *after.top1)
                                        : std::nullopt);
  json.Key("importance").BeginObject().Key("criterion").String(spec_.importance);
  json.Key("reduction").String(spec_.group_reduction);
  json.Key("normalization").String(spec_.normalization);
  json.Key("round_to").Int(spec_.round_to).Key("min_channels").Int(spec_.min_channels);
  json.EndObject();
  json.Key("top5_before")
      .Number(top_before ? std::optional<double>(top_before->top5) : std::nullopt);
  json.Key("top5_after").Number(top_after ? std::optional<double>(top_after->top5) : std::nullopt);
  json.Key("fidelity");
  if (fidelity) {
    json.BeginObject().Key("inputs").String(split ? "eval split" : "16 random normal inputs");
    json.Key("top1_agreement").Number(fidelity->top1_agreement);
    json.Key("mean_kl").Number(fidelity->mean_kl).EndObject();
  } else {
    json.Null();
  }
  json.Key("distillation").BeginObject().Key("alpha").Number(spec_.kd_alpha);
  json.Key("temperature").Number(spec_.kd_temperature).EndObject();
  json.Key("layers");
  WriteLayers(json, analysis, before.cost, after.cost);
  json.Key("groups");
  WriteGroups(json, analysis, keep);
  json.Key("unprunable");
  WriteUnprunable(json, analysis);
  if (latency_table) {
    json.Key("latency_prediction");
    WriteLatencyPrediction(json, *latency_table, *cost, keep, before.latency_ms, after.latency_ms);
  }
  if (searched) {
    json.Key("search");
    search::WriteSearchSection(json, spec_, *searched);
    json.Key("candidates");
    search::WriteCandidates(json, *searched, analysis);
  }
  json.EndObject();
  outcome.report_json = json.str();
  Stage("done", 1.0);
  return outcome;
}

}  // namespace

const char* EngineVersion() { return "prune-engine 0.1.0"; }

Status RunPruneJob(const JobSpec& spec, const std::function<void(const Progress&)>& on_progress,
                   const CancelToken& cancel, JobOutcome* out) {
  try {
    JobRunner runner(spec, on_progress, cancel);
    JobOutcome outcome = runner.Run();
    if (out) *out = std::move(outcome);
    return Status{};
  } catch (...) {
    return StatusFromCurrentException();
  }
}

}  // namespace prune::engine
