#ifndef PRUNE_ENGINE_CHANNEL_CONSTANTS_H_
#define PRUNE_ENGINE_CHANNEL_CONSTANTS_H_

#include <torch/script.h>

#include <string>
#include <vector>

namespace prune::engine {

// Makes the channel counts that scripted layers record
// (Conv.in_channels / out_channels / groups, Linear.in_features /
// out_features, BatchNorm.num_features, LayerNorm.normalized_shape) true
// again after surgery shrank their tensors, so user code such as
// `model.layer1[0].conv1.out_channels` sees the pruned widths.
//
// TorchScript stores these as constants of the module's class type, and
// instances with equal constants share one type, so a constant cannot hold a
// different value per instance. Where any instance's count changed, the
// constant becomes an int attribute of the type with each instance's own
// value. Compiled code is unaffected: it inlined the constants when it was
// compiled, and nothing reads them afterwards (depthwise `groups` and
// LayerNorm's normalized_shape are made dynamic in the code by the surgery). Types whose counts all still hold are
// left as they are. `depthwise_convs` are the module paths whose `groups`
// follows the channel count.
void RefreshChannelConstants(torch::jit::Module& module,
                             const std::vector<std::string>& depthwise_convs);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_CHANNEL_CONSTANTS_H_
