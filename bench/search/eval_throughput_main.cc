// Candidate-evaluation throughput of the search scorer vs plain inference.
//
//   prune-search-eval-bench MODEL.pt DATASET.pt [batch=64] [calib_batches=5] [eval_samples=500]
//                           [device=cpu|cuda]
//
// For uniform candidates at 100%, 50% and 25% MACs: images/s of
// InheritedWeightScorer::Score (weight inheritance + BN recalibration on
// calib_batches batches + top-1 on eval_samples images) against images/s of
// plain eval-mode inference of the same candidate (ApplyPlan surgery, warm
// module) at the same batch size over the same number of images.
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "analysis.h"
#include "batch_norm_calibration.h"
#include "dataset.h"
#include "evaluate.h"
#include "search/scorer.h"
#include "surgery.h"
#include "uniform_strategy.h"

using namespace prune::engine;

namespace {

double Seconds(const std::function<void()>& fn, int repeats, const torch::Device& device) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) fn();
  // CUDA kernels run asynchronously: count them in the time they belong to.
  if (device.is_cuda()) torch::cuda::synchronize();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeats;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s MODEL DATASET [batch] [calib_batches] [eval_samples] [device]\n",
                 argv[0]);
    return 2;
  }
  const int64_t batch = argc > 3 ? std::stoll(argv[3]) : 64;
  const int64_t calib_batches = argc > 4 ? std::stoll(argv[4]) : 5;
  const int64_t eval_samples = argc > 5 ? std::stoll(argv[5]) : 500;
  const torch::Device device(argc > 6 ? argv[6] : "cpu");
  const int repeats = 7;
  torch::jit::Module model = torch::jit::load(argv[1]);
  model.eval();
  std::vector<int64_t> shape = {1, 1, 28, 28};
  Dataset data = LoadDataset(argv[2], shape);
  ModelAnalysis analysis = AnalyzeModel(model, shape);
  const int64_t n = data.inputs.size(0);
  Dataset calib{data.inputs.slice(0, 0, calib_batches * batch),
                data.targets.slice(0, 0, calib_batches * batch)};
  Dataset held{data.inputs.slice(0, n - eval_samples), data.targets.slice(0, n - eval_samples)};
  search::ScorerOptions options;
  options.batch_size = batch;
  options.calibration_batches = calib_batches;
  search::InheritedWeightScorer scorer(model, analysis, calib, held, options, device);
  options.plain_executor = false;  // for comparison: profiling executor re-specialising
  search::InheritedWeightScorer profiled(model, analysis, calib, held, options, device);
  CancelToken cancel;
  const double images = static_cast<double>(scorer.ImagesPerScore());
  std::printf("device %s threads %d batch %lld images/candidate %.0f (calib %lld + eval %lld)\n",
              device.str().c_str(), torch::get_num_threads(), static_cast<long long>(batch), images,
              static_cast<long long>(calib_batches * batch), static_cast<long long>(eval_samples));
  std::printf("batch-norm calibration: %s\n",
              BatchNormCalibrator(scorer.module(), analysis, !device.is_cuda()).rewritten()
                  ? "rewritten graph (vectorised statistics)"
                  : "train-mode passes (graph not rewritten)");
  for (double ratio : {1.0, 0.5, 0.25}) {
    KeepCounts keep = ratio < 1.0 ? UniformKeepCounts(analysis, CostModel(analysis, "flops"), ratio)
                                  : FullKeepCounts(analysis);
    // Plain inference of the same candidate: the surgically pruned, warm module.
    torch::jit::Module pruned =
        ApplyPlan(model, analysis, SelectChannels(model, analysis, keep, "l1"));
    pruned.eval();
    pruned.to(device);
    // The scorer keeps its images on the device; so does plain inference.
    Dataset all{torch::cat({calib.inputs, held.inputs}).to(device),
                torch::cat({calib.targets, held.targets}).to(device)};
    auto plain = [&] {
      torch::NoGradGuard no_grad;
      for (int64_t s = 0; s < all.inputs.size(0); s += batch) {
        pruned.forward({all.inputs.slice(0, s, std::min(all.inputs.size(0), s + batch))});
      }
    };
    plain();  // warm-up (profiling executor)
    plain();
    scorer.Score(keep, cancel);  // warm-up
    // Interleaved, best of `repeats` each: the machine is shared.
    double t_plain = 1e30;
    double t_score = 1e30;
    double t_profiled = 1e30;
    double score = 0;
    profiled.Score(keep, cancel);
    for (int r = 0; r < repeats; ++r) {
      t_plain = std::min(t_plain, Seconds(plain, 1, device));
      t_score = std::min(t_score, Seconds([&] { score = scorer.Score(keep, cancel); }, 1, device));
      t_profiled = std::min(t_profiled, Seconds([&] { profiled.Score(keep, cancel); }, 1, device));
    }
    // Where the candidate's time goes: weight inheritance, BN recalibration,
    // the held-out pass (each best of `repeats`, as Score runs them).
    double t_materialize = 1e30;
    double t_recalibrate = 1e30;
    double t_train_mode = 1e30;  // the same recalibration by train-mode passes
    double t_held_out = 1e30;
    BatchNormCalibrator rewritten(scorer.module(), analysis);  // also on a GPU, to compare
    BatchNormCalibrator train_mode(scorer.module(), analysis, /*rewrite=*/false);
    auto recalibrate = [&](BatchNormCalibrator& calibrator) {
      return Seconds([&] { calibrator.Run(calib, batch, calib_batches, device, cancel); }, 1,
                     device);
    };
    for (int r = 0; r < repeats; ++r) {
      torch::jit::GraphOptimizerEnabledGuard optimizer(false);
      t_materialize =
          std::min(t_materialize, Seconds([&] { scorer.Materialize(keep); }, 1, device));
      t_recalibrate = std::min(t_recalibrate, recalibrate(rewritten));
      t_train_mode = std::min(t_train_mode, recalibrate(train_mode));
      t_held_out = std::min(
          t_held_out,
          Seconds([&] { Top1Accuracy(scorer.module(), held, batch, device, cancel); }, 1, device));
    }
    std::printf(
        "macs_ratio %.3f  plain %.0f img/s  candidate-eval %.0f img/s  ratio %.2f  "
        "(%.3f s/candidate, top1 %.3f; with the optimising executor %.0f img/s)\n",
        static_cast<double>(ComputeCost(analysis, keep).macs) /
            static_cast<double>(ComputeCost(analysis, FullKeepCounts(analysis)).macs),
        images / t_plain, images / t_score, t_plain / t_score, t_score, score, images / t_profiled);
    std::printf(
        "  breakdown: materialize %.1f ms, recalibration by rewritten graph %.1f ms (%.0f img/s), "
        "by "
        "train-mode passes %.1f ms; held-out %.1f ms (%.0f img/s); plain inference %.0f img/s\n",
        t_materialize * 1e3, t_recalibrate * 1e3,
        static_cast<double>(images - static_cast<double>(held.inputs.size(0))) / t_recalibrate,
        t_train_mode * 1e3, t_held_out * 1e3, static_cast<double>(held.inputs.size(0)) / t_held_out,
        images / t_plain);
  }
  return 0;
}
