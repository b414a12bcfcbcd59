#ifndef PRUNE_ENGINE_LAYER_TIMING_H_
#define PRUNE_ENGINE_LAYER_TIMING_H_

// Times one conv / linear layer of an analysed model alone: the same op with
// random weights of the kept shape, its kernel, stride, padding, dilation and
// groups, on a random input of the layer's real spatial size.

#include <torch/script.h>

#include <cstdint>

#include "analysis.h"

namespace prune::engine {

struct LayerTimingOptions {
  int64_t batch_size = 1;
  int warmup_runs = 1;
  int runs = 5;  // the median is reported
  torch::Device device{torch::kCPU};
};

// Whether the analysis recorded enough to rebuild the layer's op (constant
// stride / padding / dilation, the input's shape).
bool CanTimeLayer(const Layer& layer);

// Median milliseconds of the layer's op with `in_channels` kept input and
// `out_channels` kept output channels (a depthwise conv uses out_channels for
// both, with groups == channels). CUDA work is synchronised before each
// clock read.
double TimeLayerMs(const Layer& layer, int64_t in_channels, int64_t out_channels,
                   const LayerTimingOptions& options);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_LAYER_TIMING_H_
