#ifndef PRUNE_ENGINE_BATCH_NORM_CALIBRATION_H_
#define PRUNE_ENGINE_BATCH_NORM_CALIBRATION_H_

#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

#include "analysis.h"
#include "dataset.h"
#include "prune/engine/job.h"

namespace torch::jit {
struct GraphFunction;
}

namespace prune::engine {

// Re-estimates the BatchNorm running statistics of one module as the plain
// average, over calibration batches, of each batch's mean and unbiased
// variance (what train-mode batch norm would compute batch by batch).
//
// Why not simply forward in train mode: LibTorch's CPU batch-norm kernel
// collects the statistics in scalar double-precision loops, which makes a
// train-mode pass 1.4-1.6x as slow as an eval-mode pass on MobileNet-style
// models; and its running statistics are an exponential average, so getting
// the plain average needs a read-back per norm per batch (seven tiny ops per
// norm per batch, which dominate on a GPU). Instead the calibrator runs a
// copy of the inlined forward graph in which each recalibrated norm computes
// its batch statistics with vectorised reductions, normalises with them (as
// train mode does), and adds them to its running buffers; the sums are
// divided once at the end. Graphs it cannot rewrite fall back to train-mode
// passes with per-batch read-back.
//
// Norms called more than once per forward are left alone (as before), as are
// norms without running statistics or with a non-positive momentum.
class BatchNormCalibrator {
 public:
  // `module` is the module that will be calibrated (the graph reads its
  // attributes when it runs, so tensors may be replaced between runs).
  // `rewrite` false forces the train-mode passes (for comparisons, and on
  // GPUs, whose native train-mode norm is fast).
  BatchNormCalibrator(const torch::jit::Module& module, const ModelAnalysis& analysis,
                      bool rewrite = true);
  ~BatchNormCalibrator();
  BatchNormCalibrator(const BatchNormCalibrator&) = delete;
  BatchNormCalibrator& operator=(const BatchNormCalibrator&) = delete;

  // Recalibrates on up to `max_batches` batches of `data`; leaves the module
  // in eval mode.
  void Run(const Dataset& data, int64_t batch_size, int64_t max_batches,
           const torch::Device& device, const CancelToken& cancel);

  // False when the forward graph could not be rewritten (the slower
  // train-mode fallback runs instead).
  bool rewritten() const { return function_ != nullptr; }

 private:
  struct Norm {
    std::string path;
    double factor;  // momentum: one train-mode update moves the statistics this far
  };
  void RunRewritten(const Dataset& data, int64_t batch_size, int64_t max_batches,
                    const torch::Device& device, const CancelToken& cancel);
  void RunTrainMode(const Dataset& data, int64_t batch_size, int64_t max_batches,
                    const torch::Device& device, const CancelToken& cancel);

  torch::jit::Module module_;
  std::vector<Norm> norms_;
  std::unique_ptr<torch::jit::GraphFunction> function_;
};

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_BATCH_NORM_CALIBRATION_H_
