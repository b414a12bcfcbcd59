#include "surgery.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include "channel_constants.h"
#include "engine_error.h"
#include "importance.h"
#include "layer_norm_shape.h"

namespace prune::engine {

PruningPlan SelectChannels(const torch::jit::Module& module, const ModelAnalysis& analysis,
                           const KeepCounts& keep, const std::string& importance) {
  const ImportanceFn* score_fn = FindImportance(importance);
  if (!score_fn) throw EngineError("INVALID_ARGUMENT", "unknown importance '" + importance + "'");
  PruningPlan plan;
  for (const auto& g : analysis.groups) {
    int64_t k = keep.at(g.id);
    std::vector<int64_t> indices;
    if (k >= g.channels || !g.prunable) {
      for (int64_t c = 0; c < g.channels; ++c) indices.push_back(c);
    } else {
      torch::Tensor score = (*score_fn)(module, g);
      // Stable order on ties: sort by (-score, index).
      torch::Tensor order =
          std::get<1>(score.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
      auto top = order.slice(0, 0, k).contiguous();
      indices.assign(top.data_ptr<int64_t>(), top.data_ptr<int64_t>() + k);
      std::sort(indices.begin(), indices.end());
    }
    plan.keep.push_back(std::move(indices));
  }
  return plan;
}

namespace {

struct Segment {
  int64_t offset = 0;
  int64_t channels = 0;
  int64_t block = 1;
  int group = -1;
};

}  // namespace

// Replaces a constant `groups` argument of every conv call in the methods of
// `conv`'s class type by `weight.size(0) // multiplier`, where multiplier is
// the depthwise conv's outputs per group (original out_channels / groups,
// which pruning keeps: a kept input channel keeps all its outputs). A scripted
// Conv2d bakes `groups` into its code, and instances with equal constants
// share one class type, so a per-instance constant cannot work. The size is
// read from the weight, not from the input, because after torch.jit.freeze
// the weight is a constant: the expression folds back to a constant, and
// freeze's conv + batch-norm folding and optimize_for_inference's oneDNN
// conversion, which need constant conv arguments, apply to the pruned model
// as they do to the original.
void MakeConvGroupsFollowChannels(const torch::jit::Module& conv, int64_t original_out_channels) {
  for (torch::jit::Function* fn : conv.type()->methods()) {
    auto* graph_fn = dynamic_cast<torch::jit::GraphFunction*>(fn);
    if (!graph_fn) continue;
    std::shared_ptr<torch::jit::Graph> graph = graph_fn->graph();
    std::vector<torch::jit::Node*> convs;
    std::function<void(torch::jit::Block*)> collect = [&](torch::jit::Block* block) {
      for (torch::jit::Node* node : block->nodes()) {
        std::string kind = node->kind().toQualString();
        if (kind == "aten::conv1d" || kind == "aten::conv2d" || kind == "aten::conv3d") {
          convs.push_back(node);
        }
        for (torch::jit::Block* b : node->blocks()) collect(b);
      }
    };
    collect(graph->block());
    for (torch::jit::Node* node : convs) {
      auto groups = torch::jit::toIValue(node->input(6));
      if (!groups || !groups->isInt() || groups->toInt() <= 1) continue;
      if (original_out_channels % groups->toInt() != 0) continue;
      const int64_t multiplier = original_out_channels / groups->toInt();
      torch::jit::WithInsertPoint guard(node);
      torch::jit::Value* zero = graph->insertConstant(int64_t{0});
      torch::jit::Value* outputs = graph->insert(c10::aten::size, {node->input(1), zero});
      torch::jit::Value* dynamic =
          multiplier == 1
              ? outputs
              : graph->insert(c10::aten::floordiv, {outputs, graph->insertConstant(multiplier)});
      node->replaceInput(6, dynamic);
    }
  }
}

PruningPlan SelectChannelsByScores(const ModelAnalysis& analysis, const KeepCounts& keep,
                                   const std::vector<torch::Tensor>& scores) {
  PruningPlan plan;
  for (const auto& g : analysis.groups) {
    int64_t k = keep.at(g.id);
    std::vector<int64_t> indices;
    if (k >= g.channels || !g.prunable || !scores.at(g.id).defined()) {
      for (int64_t c = 0; c < g.channels; ++c) indices.push_back(c);
    } else {
      torch::Tensor order =
          std::get<1>(scores[g.id].sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
      auto top = order.slice(0, 0, k).contiguous();
      indices.assign(top.data_ptr<int64_t>(), top.data_ptr<int64_t>() + k);
      std::sort(indices.begin(), indices.end());
    }
    plan.keep.push_back(std::move(indices));
  }
  return plan;
}

torch::jit::Module ApplyPlan(const torch::jit::Module& module, const ModelAnalysis& analysis,
                             const PruningPlan& plan) {
  torch::NoGradGuard no_grad;
  // Module::clone deep-copies tensors with Tensor::clone; without the guard
  // the copies would be non-leaf tensors that an optimizer rejects. It also
  // gives the copy its own class types (patched below for depthwise convs).
  torch::jit::Module pruned = module.clone();
  std::map<std::string, bool> requires_grad;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) {
    requires_grad[p.name] = p.value.requires_grad();
  }
  for (const auto& p : pruned.named_parameters(/*recurse=*/true)) {
    p.value.set_requires_grad(requires_grad[p.name]);
  }
  // Every slice of every tensor dim, from all groups: a tensor read after a
  // `cat` holds several groups at offsets (plus runs that are never pruned).
  std::map<std::tuple<std::string, std::string, int64_t>, std::vector<Segment>> slices;
  for (const auto& g : analysis.groups) {
    if (!g.prunable) continue;
    const auto& keep = plan.keep.at(g.id);
    if (keep.empty()) throw EngineError("INTERNAL", "plan keeps no channel of a group");
    for (const auto& m : g.members) {
      slices[{m.module_path, m.tensor_name, m.dim}].push_back(
          Segment{m.offset, g.channels, m.block, g.id});
    }
  }
  std::set<std::string> shrunk_modules;
  for (auto& [key, segments] : slices) {
    const auto& [path, name, dim] = key;
    std::sort(segments.begin(), segments.end(),
              [](const Segment& a, const Segment& b) { return a.offset < b.offset; });
    torch::jit::Module owner = SubmoduleAt(pruned, path);
    torch::Tensor old = owner.attr(name).toTensor();
    const int64_t size = old.size(dim);
    std::vector<int64_t> rows;
    int64_t cursor = 0;
    for (const Segment& s : segments) {
      if (s.offset < cursor || s.offset + s.channels * s.block > size) {
        throw EngineError("INTERNAL",
                          "tensor " + path + "." + name + " does not have the analysed size");
      }
      for (int64_t r = cursor; r < s.offset; ++r) rows.push_back(r);
      for (int64_t c : plan.keep.at(s.group)) {
        for (int64_t j = 0; j < s.block; ++j) rows.push_back(s.offset + c * s.block + j);
      }
      cursor = s.offset + s.channels * s.block;
    }
    for (int64_t r = cursor; r < size; ++r) rows.push_back(r);
    torch::Tensor index = torch::tensor(rows, torch::kInt64).to(old.device());
    torch::Tensor shrunk = old.index_select(dim, index).contiguous().clone();
    shrunk.set_requires_grad(old.requires_grad());
    owner.setattr(name, shrunk);
    if (shrunk.size(dim) != size) shrunk_modules.insert(path);
  }
  for (const auto& path : analysis.depthwise_convs) {
    torch::jit::Module conv = SubmoduleAt(pruned, path);
    auto w = conv.attr("weight").toTensor();
    auto original = SubmoduleAt(module, path).attr("weight").toTensor();
    if (w.size(0) != original.size(0)) MakeConvGroupsFollowChannels(conv, original.size(0));
  }
  for (const auto& layer : analysis.layers) {
    if (layer.kind == LayerKind::kLayerNorm && shrunk_modules.count(layer.name)) {
      MakeLayerNormShapeFollowInput(SubmoduleAt(pruned, layer.name));
    }
  }
  RefreshChannelConstants(pruned, analysis.depthwise_convs);
  return pruned;
}

}  // namespace prune::engine
