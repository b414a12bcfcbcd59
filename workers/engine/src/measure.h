#ifndef PRUNE_ENGINE_MEASURE_H_
#define PRUNE_ENGINE_MEASURE_H_

#include <torch/script.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "analysis.h"

namespace prune::engine {

// Channels kept per group, indexed by group id.
using KeepCounts = std::vector<int64_t>;

struct LayerCost {
  int64_t macs = 0;
  int64_t params = 0;  // 0 for a repeated call of an already counted module
  int64_t in_channels = 0;
  int64_t out_channels = 0;
};

struct ModelCost {
  int64_t macs = 0;               // conv + linear multiply-accumulates for the analysed input shape
  int64_t params = 0;             // all parameters of the model
  std::vector<LayerCost> layers;  // parallel to ModelAnalysis::layers
};

KeepCounts FullKeepCounts(const ModelAnalysis& analysis);

// MACs and parameters the model would have with `keep` channels per group,
// computed analytically (no surgery).
ModelCost ComputeCost(const ModelAnalysis& analysis, const KeepCounts& keep);

// Median wall time in milliseconds of `runs` calls of `run` after `warmup`
// untimed ones; on CUDA each timed call ends with a synchronize so that it
// counts the kernels it queued.
double MedianWallMs(const std::function<void()>& run, int warmup, int runs,
                    const torch::Device& device);

// Median wall time in milliseconds of `runs` forward passes on random input
// of `input_shape` with batch size `batch`, after two warm-up passes.
double MeasureLatencyMs(torch::jit::Module& module, std::vector<int64_t> input_shape, int64_t batch,
                        int runs, const torch::Device& device);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_MEASURE_H_
