#ifndef PRUNE_ENGINE_CHANNEL_SHUFFLE_H_
#define PRUNE_ENGINE_CHANNEL_SHUFFLE_H_

#include <torch/csrc/jit/ir/ir.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace prune::engine {

// A channel shuffle (ShuffleNet): x [N, C, *S] viewed as [N, g, C/g, *S],
// dims 1 and 2 transposed, (contiguous,) and viewed back as [N, C, *S].
// Output channel j * g + i is input channel i * C/g + j.
struct ChannelShuffle {
  int64_t groups = 0;
  torch::jit::Value* output = nullptr;   // the [N, C, *S] result
  std::vector<torch::jit::Node*> nodes;  // every node of the pattern after the first view
};

using ShapeLookup = std::function<const std::vector<int64_t>*(const torch::jit::Value*)>;

// Matches the shuffle starting at `view` (aten::view / aten::reshape of the
// channel tensor). Only forms that stay a shuffle after pruning match: the
// group count is a constant, the per-group size is computed at run time
// (x.size(1) // g, or -1), the final view's channel size is -1 or x.size(1),
// and every other size is a recorded constant or read from x.size() at a
// dim other than 1. Each intermediate tensor must have no other use.
std::optional<ChannelShuffle> MatchChannelShuffle(torch::jit::Node* view, const ShapeLookup& shape);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_CHANNEL_SHUFFLE_H_
