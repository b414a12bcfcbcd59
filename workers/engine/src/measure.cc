#include "measure.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <set>

namespace prune::engine {

KeepCounts FullKeepCounts(const ModelAnalysis& analysis) {
  KeepCounts keep;
  for (const auto& g : analysis.groups) keep.push_back(g.channels);
  return keep;
}

namespace {

int64_t KeptOf(const std::vector<ChannelPart>& parts, const KeepCounts& keep, bool columns) {
  int64_t total = 0;
  for (const auto& p : parts) {
    total += (p.group >= 0 ? keep.at(p.group) : p.channels) * (columns ? p.block : 1);
  }
  return total;
}

LayerCost LayerCostFor(const Layer& layer, const KeepCounts& keep) {
  LayerCost c;
  c.in_channels = layer.in_group >= 0 ? keep.at(layer.in_group) : layer.in_channels;
  c.out_channels = layer.out_group >= 0 ? keep.at(layer.out_group) : layer.out_channels;
  int64_t in_columns = c.in_channels * layer.in_block;
  if (!layer.in_parts.empty()) {
    c.in_channels = KeptOf(layer.in_parts, keep, false);
    in_columns = KeptOf(layer.in_parts, keep, true);
  }
  if (!layer.out_parts.empty()) c.out_channels = KeptOf(layer.out_parts, keep, false);
  switch (layer.kind) {
    case LayerKind::kConv: {
      int64_t groups = layer.depthwise ? c.in_channels : layer.conv_groups;
      int64_t weights = layer.transposed
                            ? c.in_channels * (c.out_channels / groups) * layer.kernel_elements
                            : c.out_channels * (c.in_channels / groups) * layer.kernel_elements;
      c.macs = layer.out_spatial * weights;
      c.params = weights + (layer.has_bias ? c.out_channels : 0);
      break;
    }
    case LayerKind::kLinear: {
      int64_t weights = c.out_channels * in_columns;
      c.macs = weights * layer.out_spatial;
      c.params = weights + (layer.has_bias ? c.out_channels : 0);
      break;
    }
    case LayerKind::kBatchNorm:
      c.in_channels = c.out_channels;
      c.params = layer.affine ? 2 * c.out_channels : 0;
      break;
    case LayerKind::kLayerNorm:  // a layer is only recorded for an affine one
      c.in_channels = c.out_channels;
      c.params = (layer.has_bias ? 2 : 1) * c.out_channels;
      break;
  }
  return c;
}

}  // namespace

ModelCost ComputeCost(const ModelAnalysis& analysis, const KeepCounts& keep) {
  KeepCounts full = FullKeepCounts(analysis);
  ModelCost cost;
  int64_t counted_full_params = 0;
  int64_t counted_params = 0;
  std::set<std::string> counted_modules;
  for (const auto& layer : analysis.layers) {
    LayerCost c = LayerCostFor(layer, keep);
    if (counted_modules.insert(layer.name).second) {
      counted_full_params += LayerCostFor(layer, full).params;
      counted_params += c.params;
    } else {
      c.params = 0;
    }
    cost.macs += c.macs;
    cost.layers.push_back(c);
  }
  // Parameters outside conv / linear / norm layers are not pruned.
  cost.params = analysis.total_params - counted_full_params + counted_params;
  return cost;
}

double MedianWallMs(const std::function<void()>& run, int warmup, int runs,
                    const torch::Device& device) {
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  for (int i = 0; i < warmup; ++i) run();
  sync();
  std::vector<double> times;
  for (int i = 0; i < std::max(1, runs); ++i) {
    auto start = std::chrono::steady_clock::now();
    run();
    sync();
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::sort(times.begin(), times.end());
  size_t n = times.size();
  return n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
}

double MeasureLatencyMs(torch::jit::Module& module, std::vector<int64_t> input_shape, int64_t batch,
                        int runs, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  input_shape.at(0) = batch;
  std::vector<c10::IValue> inputs{torch::randn(input_shape, torch::TensorOptions().device(device))};
  return MedianWallMs([&] { module.forward(inputs); }, /*warmup=*/2, runs, device);
}

}  // namespace prune::engine
