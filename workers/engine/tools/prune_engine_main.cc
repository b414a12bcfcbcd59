// prune-engine: offline command-line front end of the engine.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "prune/engine/job.h"

namespace {

constexpr char kUsage[] = R"(usage:
  prune-engine analyze --model M --input-shape 1,1,28,28 [--json]
  prune-engine prune --model IN --input-shape S -o OUT [--report R.json]
               [--strategy uniform|global|...]
               [--target flops=0.5|params=0.5|latency=0.5]
               [--dataset D] [--finetune-epochs K] [--lr LR] [--batch-size B]
               [--calibration-batches N] [--seed N] [--device auto|cpu|cuda]
               [--latency-batch-size B] [--latency-runs N] [--optimized-latency on|off]
               [--latency-table-cache DIR] [--latency-table-grid N]
               [--importance l1|l2|bn_scale|taylor|fpgm|random]
               [--group-reduction sum|mean|max] [--normalization mean|max|sum|none]
               [--round-to N] [--min-channels N] [--taylor-batches N]
               [--kd-alpha A] [--kd-temperature T]
  prune-engine search --strategy amc|metapruning|autoslim|uniform --model M --input-shape S
               --dataset D --target flops=0.5 -o OUT [--report R.json] [--seed N]
               [--max-evaluations N] [--search-seconds S] [--accuracy-floor A]
               [--amc-episodes N] [--amc-warmup N] [--evo-generations N]
               [--evo-population N] [--search-eval-samples N]
               [--search-calibration-batches N] [--autoslim-step F]
               [--metapruning-mode inherit|pruningnet] [--pruningnet-steps N]
               [--checkpoint FILE] [--resume FILE]
               (plus every prune option; "prune --strategy amc ..." is the same)
  prune-engine --help

Datasets are torch.save({"inputs": float32 [N,...], "targets": int64 [N]}) files;
the first 80% fine-tune / calibrate, the last 20% evaluate.
--target latency=R keeps at most R of the model's latency on --device at
--latency-batch-size, predicted by a per-layer latency table (built once per
model and device; reused from --latency-table-cache DIR when given).
Latencies are measured on both models as saved and, unless --optimized-latency
off, as torch.jit.optimize_for_inference(torch.jit.freeze(m)) deploys them.
)";

struct Args {
  std::string command;
  std::map<std::string, std::string> options;
  std::vector<std::string> flags;
};

bool IsFlag(const std::string& name) { return name == "--json" || name == "--help"; }

bool Parse(int argc, char** argv, Args* args, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h") a = "--help";
    if (a == "-o") a = "--output";
    if (a.rfind("--", 0) == 0) {
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        args->options[a.substr(0, eq)] = a.substr(eq + 1);
      } else if (IsFlag(a)) {
        args->flags.push_back(a);
      } else if (i + 1 < argc) {
        args->options[a] = argv[++i];
      } else {
        *error = "option " + a + " needs a value";
        return false;
      }
    } else if (args->command.empty()) {
      args->command = a;
    } else {
      *error = "unexpected argument '" + a + "'";
      return false;
    }
  }
  return true;
}

bool HasFlag(const Args& args, const std::string& flag) {
  for (const auto& f : args.flags) {
    if (f == flag) return true;
  }
  return false;
}

bool ParseShape(const std::string& text, std::vector<int64_t>* shape) {
  std::stringstream parts(text);
  std::string part;
  while (std::getline(parts, part, ',')) {
    try {
      size_t used = 0;
      long long v = std::stoll(part, &used);
      if (used != part.size()) return false;
      shape->push_back(v);
    } catch (const std::exception&) {
      return false;
    }
  }
  return !shape->empty();
}

template <typename T>
bool ParseNumber(const std::string& text, T* value) {
  std::istringstream in(text);
  in >> *value;
  return !in.fail() && in.eof();
}

int Fail(const std::string& message) {
  std::cerr << "prune-engine: " << message << "\n";
  return 2;
}

int Analyze(const Args& args) {
  std::vector<int64_t> shape;
  if (!args.options.count("--model")) return Fail("analyze needs --model");
  if (!ParseShape(args.options.count("--input-shape") ? args.options.at("--input-shape") : "",
                  &shape)) {
    return Fail("analyze needs --input-shape like 1,3,224,224");
  }
  prune::engine::AnalyzeOutcome outcome;
  auto status = prune::engine::AnalyzeModelFile(args.options.at("--model"), shape, &outcome);
  if (!status.ok()) {
    std::cerr << "prune-engine: " << status.ToString() << "\n";
    return 1;
  }
  std::cout << (HasFlag(args, "--json") ? outcome.report_json + "\n" : outcome.table);
  return 0;
}

int Prune(const Args& args) {
  prune::engine::JobSpec spec;
  std::string report_path;
  for (const auto& [key, value] : args.options) {
    bool ok = true;
    if (key == "--model") {
      spec.model_path = value;
    } else if (key == "--input-shape") {
      ok = ParseShape(value, &spec.input_shape);
    } else if (key == "--output") {
      spec.output_model_path = value;
    } else if (key == "--report") {
      report_path = value;
    } else if (key == "--strategy") {
      spec.strategy = value;
    } else if (key == "--target") {
      auto eq = value.find('=');
      ok = eq != std::string::npos && ParseNumber(value.substr(eq + 1), &spec.target_ratio);
      if (ok) spec.target_kind = value.substr(0, eq);
    } else if (key == "--dataset") {
      spec.dataset_path = value;
    } else if (key == "--finetune-epochs") {
      ok = ParseNumber(value, &spec.finetune_epochs);
    } else if (key == "--lr") {
      ok = ParseNumber(value, &spec.finetune_lr);
    } else if (key == "--batch-size") {
      ok = ParseNumber(value, &spec.batch_size);
    } else if (key == "--calibration-batches") {
      ok = ParseNumber(value, &spec.calibration_batches);
    } else if (key == "--seed") {
      ok = ParseNumber(value, &spec.seed);
    } else if (key == "--device") {
      spec.device = value;
    } else if (key == "--latency-batch-size") {
      ok = ParseNumber(value, &spec.latency_batch_size);
    } else if (key == "--latency-runs") {
      ok = ParseNumber(value, &spec.latency_runs);
    } else if (key == "--optimized-latency") {
      ok = value == "on" || value == "off";
      spec.optimized_latency = value == "on";
    } else if (key == "--latency-table-cache") {
      spec.latency_table_cache_dir = value;
    } else if (key == "--latency-table-grid") {
      ok = ParseNumber(value, &spec.latency_table_grid);
    } else if (key == "--importance") {
      spec.importance = value;
    } else if (key == "--group-reduction") {
      spec.group_reduction = value;
    } else if (key == "--normalization") {
      spec.normalization = value;
    } else if (key == "--round-to") {
      ok = ParseNumber(value, &spec.round_to);
    } else if (key == "--min-channels") {
      ok = ParseNumber(value, &spec.min_channels);
    } else if (key == "--taylor-batches") {
      ok = ParseNumber(value, &spec.taylor_batches);
    } else if (key == "--kd-alpha") {
      ok = ParseNumber(value, &spec.kd_alpha);
    } else if (key == "--kd-temperature") {
      ok = ParseNumber(value, &spec.kd_temperature);
    } else if (key == "--max-evaluations") {  // search strategies
      ok = ParseNumber(value, &spec.search_max_evaluations);
    } else if (key == "--search-seconds") {
      ok = ParseNumber(value, &spec.search_seconds);
    } else if (key == "--accuracy-floor") {
      ok = ParseNumber(value, &spec.accuracy_floor);
    } else if (key == "--amc-episodes") {
      ok = ParseNumber(value, &spec.amc_episodes);
    } else if (key == "--amc-warmup") {
      ok = ParseNumber(value, &spec.amc_warmup_episodes);
    } else if (key == "--evo-generations") {
      ok = ParseNumber(value, &spec.evo_generations);
    } else if (key == "--evo-population") {
      ok = ParseNumber(value, &spec.evo_population);
    } else if (key == "--search-eval-samples") {
      ok = ParseNumber(value, &spec.search_eval_samples);
    } else if (key == "--search-calibration-batches") {
      ok = ParseNumber(value, &spec.search_calibration_batches);
    } else if (key == "--metapruning-mode") {
      spec.metapruning_mode = value;
    } else if (key == "--pruningnet-steps") {
      ok = ParseNumber(value, &spec.pruningnet_steps);
    } else if (key == "--autoslim-step") {
      ok = ParseNumber(value, &spec.autoslim_step);
    } else if (key == "--checkpoint") {  // search state, rewritten every 10 evaluations
      spec.on_checkpoint = [value](const std::string& state) {
        std::ofstream(value + ".tmp", std::ios::binary) << state;
        std::rename((value + ".tmp").c_str(), value.c_str());
      };
    } else if (key == "--resume") {
      std::ifstream in(value, std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      ok = static_cast<bool>(in);
      spec.search_resume_state = bytes.str();
    } else {
      return Fail("unknown option " + key);
    }
    if (!ok) return Fail("bad value '" + value + "' for " + key);
  }
  if (spec.model_path.empty() || spec.input_shape.empty() || spec.output_model_path.empty()) {
    return Fail("prune needs --model, --input-shape and -o");
  }
  prune::engine::CancelToken cancel;
  prune::engine::JobOutcome outcome;
  auto status = prune::engine::RunPruneJob(
      spec,
      [](const prune::engine::Progress& p) {
        std::cerr << "[" << static_cast<int>(p.fraction * 100) << "%] " << p.stage
                  << (p.message.empty() ? "" : ": " + p.message) << "\n";
      },
      cancel, &outcome);
  if (!status.ok()) {
    std::cerr << "prune-engine: " << status.ToString() << "\n";
    return 1;
  }
  if (!report_path.empty()) {
    std::ofstream report(report_path);
    report << outcome.report_json << "\n";
    if (!report) return Fail("cannot write report '" + report_path + "'");
  } else {
    std::cout << outcome.report_json << "\n";
  }
  std::cerr << "MACs ratio " << outcome.macs_ratio << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  std::string error;
  if (!Parse(argc, argv, &args, &error)) return Fail(error + "\n" + kUsage);
  if (HasFlag(args, "--help") || args.command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (args.command == "analyze") return Analyze(args);
  if (args.command == "prune" || args.command == "search") return Prune(args);
  return Fail(args.command.empty() ? std::string("missing command\n") + kUsage
                                   : "unknown command '" + args.command + "'\n" + kUsage);
}
