#ifndef PRUNE_ENGINE_ANALYSIS_H_
#define PRUNE_ENGINE_ANALYSIS_H_

#include <torch/script.h>

#include <cstdint>
#include <string>
#include <vector>

namespace prune::engine {

enum class MemberRole { kProducer, kConsumer, kNorm };

// One tensor slice of a pruning group: removing channel c removes indices
// [c * block, (c + 1) * block) along `dim` of `module_path`.`tensor_name`.
struct SliceMember {
  std::string module_path;  // "" for the root module
  std::string tensor_name;
  int64_t dim = 0;
  int64_t block = 1;  // > 1 for a linear layer fed by a flatten of C x H x W
  MemberRole role = MemberRole::kProducer;
  // First index of this group's slice along `dim` (a consumer of a `cat`
  // along channels reads the group at an offset): channel c of the group is
  // indices [offset + c * block, offset + (c + 1) * block).
  int64_t offset = 0;
};

// A run of channels of a concatenated tensor: `group` (-1 when those channels
// are never pruned) with `channels` channels. The channels of a grouped conv
// (1 < groups < channels) read as `groups` runs of one group: every run loses
// the same positions.
struct ChannelPart {
  int group = -1;
  int64_t channels = 0;
  int64_t block = 1;  // columns per channel after a flatten
};

// A channel space: every member must lose the same channels. For the
// channels of a grouped conv the group is one conv group's worth: channel j
// stands for channel j of every conv group, with one member per conv group
// (at that group's offset) for each tensor slice that spans all of them.
struct PruningGroup {
  int id = 0;
  int64_t channels = 0;
  std::vector<SliceMember> members;
  std::vector<std::string> producers;  // module paths of the conv/linear creating it
  bool prunable = true;
  std::string reason;  // why not prunable ("" when prunable)
};

enum class LayerKind { kConv, kLinear, kBatchNorm, kLayerNorm };

// Normalisation layers: per-channel scale / shift, no MACs counted, no
// channels of their own (they follow their input's group).
inline bool IsNormLayer(LayerKind kind) {
  return kind == LayerKind::kBatchNorm || kind == LayerKind::kLayerNorm;
}

// One call of a conv / linear / batch-norm / layer-norm module in the forward
// graph (layer norm: only over one dim, the one its weight covers; its bias
// may be None, see has_bias).
struct Layer {
  std::string name;  // module path, e.g. "layer1.0.conv1"
  LayerKind kind = LayerKind::kConv;
  int in_group = -1;   // group id of the input channels, -1 if not pruned
  int out_group = -1;  // group id of the output channels, -1 if not pruned
  int64_t in_channels = 0;
  int64_t out_channels = 0;  // for batch / layer norm: its channel count
  int64_t conv_groups = 1;
  int64_t kernel_elements = 1;  // prod(kernel_size)
  int64_t out_spatial = 1;      // prod of the output's spatial sizes
  int64_t in_block = 1;         // linear after flatten: columns per input channel
  bool has_bias = false;
  bool affine = true;             // batch norm only
  double bn_update_factor = 1.0;  // batch norm momentum (1.0 when cumulative)
  bool shape_known = true;
  bool depthwise = false;   // conv with groups == in == out: groups follows the channels
  bool transposed = false;  // transposed conv: weight [in, out / groups, k...];
                            // out_spatial is then the input's spatial size
  // Set instead of in_group / out_group when the input is a channel-wise
  // concatenation (DenseNet, Inception, SqueezeNet) or the channels of a
  // grouped conv (one part per conv group); out_parts for batch norm and for
  // layers writing a grouped conv's channels.
  std::vector<ChannelPart> in_parts;
  std::vector<ChannelPart> out_parts;
  // What timing the layer alone needs (latency_table.cc): the shape of its
  // input as analysed, and for convs the kernel sizes and the constant
  // stride / padding / dilation (/ output_padding) arguments of the aten::conv*
  // call (empty when not constant: the layer is then timed as a whole-model remainder).
  std::vector<int64_t> in_shape;
  std::vector<int64_t> kernel;
  std::vector<int64_t> stride;
  std::vector<int64_t> padding;
  std::vector<int64_t> dilation;
  std::vector<int64_t> output_padding;
};

struct ModelAnalysis {
  std::vector<int64_t> input_shape;
  std::vector<PruningGroup> groups;
  std::vector<Layer> layers;
  int64_t total_params = 0;  // all parameters of the module
  // Module paths of depthwise convs: when their group shrinks, surgery makes
  // the scripted class compute `groups` from the tensor sizes.
  std::vector<std::string> depthwise_convs;
};

// Traces channel dependencies through the inlined forward graph of `module`,
// running it once on zeros of `input_shape` to record tensor shapes. Leaves
// the module as it was. Throws EngineError / c10::Error.
ModelAnalysis AnalyzeModel(torch::jit::Module module, const std::vector<int64_t>& input_shape);

// A copy of the forward graph with every method call inlined and the
// module's non-tensor attributes other than `training` folded into constants
// (branches on them removed), as the analysis sees it.
std::shared_ptr<torch::jit::Graph> InlinedForwardGraph(const torch::jit::Module& module);

// Submodule at a dotted path ("" is the module itself).
torch::jit::Module SubmoduleAt(const torch::jit::Module& module, const std::string& path);

const char* LayerKindName(LayerKind kind);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_ANALYSIS_H_
