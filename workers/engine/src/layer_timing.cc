#include "layer_timing.h"

#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "measure.h"

namespace prune::engine {
namespace {

double MedianMs(const std::function<void()>& op, const LayerTimingOptions& options) {
  return MedianWallMs(op, options.warmup_runs, options.runs, options.device);
}

// Input columns of a linear layer for `channels` kept input channels (as
// ComputeCost counts them: after a cat, the parts' channels): the analysed
// layer's columns per channel (H * W after a flatten) are kept.
int64_t LinearColumns(const Layer& layer, int64_t channels) {
  const int64_t full_columns = layer.in_shape.back();
  int64_t full_channels = layer.in_channels;
  if (!layer.in_parts.empty()) {
    full_channels = 0;
    for (const ChannelPart& p : layer.in_parts) full_channels += p.channels;
  }
  if (full_channels <= 0) return full_columns;
  return std::max<int64_t>(1, full_columns * channels / full_channels);
}

}  // namespace

bool CanTimeLayer(const Layer& layer) {
  if (!layer.shape_known || layer.in_shape.empty()) return false;
  if (layer.kind == LayerKind::kLinear) return true;
  if (layer.kind != LayerKind::kConv) return false;
  const size_t dims = layer.kernel.size();
  return dims >= 1 && dims <= 3 && layer.in_shape.size() == dims + 2 &&
         layer.stride.size() == dims && layer.padding.size() == dims &&
         layer.dilation.size() == dims &&
         (!layer.transposed || layer.output_padding.size() == dims);
}

double TimeLayerMs(const Layer& layer, int64_t in_channels, int64_t out_channels,
                   const LayerTimingOptions& options) {
  torch::NoGradGuard no_grad;
  const auto on_device = torch::TensorOptions().device(options.device);
  std::vector<int64_t> in_shape = layer.in_shape;
  in_shape.at(0) = options.batch_size;
  if (layer.kind == LayerKind::kLinear) {
    in_shape.back() = LinearColumns(layer, in_channels);
    torch::Tensor x = torch::randn(in_shape, on_device);
    torch::Tensor w = torch::randn({out_channels, in_shape.back()}, on_device);
    torch::Tensor b = layer.has_bias ? torch::randn({out_channels}, on_device) : torch::Tensor();
    return MedianMs([&] { torch::linear(x, w, b); }, options);
  }
  if (layer.depthwise) in_channels = out_channels;
  const int64_t groups = layer.depthwise ? out_channels : layer.conv_groups;
  in_shape.at(1) = in_channels;
  std::vector<int64_t> w_shape = layer.transposed
                                     ? std::vector<int64_t>{in_channels, out_channels / groups}
                                     : std::vector<int64_t>{out_channels, in_channels / groups};
  w_shape.insert(w_shape.end(), layer.kernel.begin(), layer.kernel.end());
  torch::Tensor x = torch::randn(in_shape, on_device);
  torch::Tensor w = torch::randn(w_shape, on_device);
  torch::Tensor b = layer.has_bias ? torch::randn({out_channels}, on_device) : torch::Tensor();
  std::vector<int64_t> output_padding = layer.output_padding;
  if (output_padding.empty()) output_padding.assign(layer.kernel.size(), 0);
  return MedianMs(
      [&] {
        torch::convolution(x, w, b, layer.stride, layer.padding, layer.dilation, layer.transposed,
                           output_padding, groups);
      },
      options);
}

}  // namespace prune::engine
