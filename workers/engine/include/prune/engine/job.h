#ifndef PRUNE_ENGINE_JOB_H_
#define PRUNE_ENGINE_JOB_H_

// Public entry points of the pruning engine. Deliberately free of LibTorch
// headers: the worker runner includes this file.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "prune/engine/status.h"

namespace prune::engine {

struct JobSpec {
  std::string model_path;
  std::string dataset_path;  // optional: "" means no accuracy numbers
  std::string output_model_path;
  std::vector<int64_t> input_shape;  // e.g. {1, 1, 28, 28}
  std::string strategy = "uniform";  // v0: "uniform"
  // "flops" (MACs), "params", or "latency": latency on `device` at
  // latency_batch_size, predicted by a per-layer latency table measured once
  // per model and device (workers/engine/README.md, "Latency target").
  std::string target_kind = "flops";
  double target_ratio = 0.5;  // fraction to keep, in (0, 1)
  int finetune_epochs = 0;
  double finetune_lr = 0.01;
  int batch_size = 64;
  int calibration_batches = 10;
  uint64_t seed = 0;
  std::string device = "auto";  // "auto", "cpu", "cuda", "cuda:N"
  int latency_batch_size = 32;  // 0 skips the latency measurement
  int latency_runs = 10;        // timed forward passes (after 2 warm-up passes)
  // Also time both models as deployed for inference
  // (torch.jit.optimize_for_inference(torch.jit.freeze(m))): the report's
  // "optimized_latency_ms" and "optimized_latency_speedup".
  bool optimized_latency = true;
  // Latency target: where tables are cached ("" : build one per job) and the
  // grid of kept channel fractions timed per layer axis (1/N ... N/N).
  std::string latency_table_cache_dir;
  int latency_table_grid = 8;
  // Ranking baselines ("uniform", "global"): channel importance and widths.
  std::string importance = "l1";         // l1 | l2 | bn_scale | taylor | fpgm | random
  std::string group_reduction = "mean";  // sum | mean | max over a group's members
  std::string normalization = "mean";    // per-group score normalisation: mean | max | sum | none
  int round_to = 1;                      // kept channel counts are multiples of this
  int min_channels = 1;                  // minimum kept channels per prunable group
  int taylor_batches = 4;                // dataset batches for "taylor"
  // Fine-tune loss (1-a)*CE + a*T^2*KL(teacher || student), teacher = the original.
  double kd_alpha = 0.0;
  double kd_temperature = 4.0;

  // Search strategies "amc", "metapruning", "autoslim" (workers/engine/README.md,
  // "Search"). Need a dataset. 0 / -1 mean the strategy's default.
  int search_max_evaluations = 0;      // candidate evaluations (hard cap)
  double search_seconds = 0;           // wall-time limit of the search (0: none)
  double accuracy_floor = 0;           // reported as search.floor_met (0: none)
  int amc_episodes = 0;                // after warm-up (default 80)
  int amc_warmup_episodes = -1;        // default 20
  int evo_generations = 0;             // default 6
  int evo_population = 0;              // default 16
  int search_eval_samples = 0;         // held-out training samples per candidate (default 500)
  int search_calibration_batches = 0;  // BN recalibration batches per candidate (default 5)
  double autoslim_step = 0;            // AutoSlim: fraction of a group removed per step (0.1)
  std::string metapruning_mode = "inherit";  // "inherit" or "pruningnet"
  int pruningnet_steps = 0;                  // PruningNet meta-training batches (default 200)
  // Checkpoint / resume: `on_checkpoint` receives the complete search state
  // (opaque bytes) every `search_checkpoint_every` candidate evaluations;
  // passing the latest one back as `search_resume_state` (same spec
  // otherwise) continues the search and gives the same result as an
  // uninterrupted run.
  std::string search_resume_state;
  int search_checkpoint_every = 10;
  std::function<void(const std::string& state)> on_checkpoint;
};

struct Progress {
  std::string stage;
  double fraction;  // of the whole job, in [0, 1]
  std::string message;
};

// Shared between the job and whoever may cancel it (another thread).
class CancelToken {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

struct JobOutcome {
  std::string report_json;
  double macs_ratio = 0.0;
};

// Runs one pruning job end to end (see workers/engine/README.md). Never throws.
Status RunPruneJob(const JobSpec& spec, const std::function<void(const Progress&)>& on_progress,
                   const CancelToken& cancel, JobOutcome* out);

struct AnalyzeOutcome {
  std::string report_json;  // groups, layers, totals
  std::string table;        // the same, human readable
};

// Loads and analyses a model without changing it. Never throws.
Status AnalyzeModelFile(const std::string& model_path, const std::vector<int64_t>& input_shape,
                        AnalyzeOutcome* out);

// Version string written into reports.
const char* EngineVersion();

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_JOB_H_
