#include "layer_norm_shape.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace prune::engine {
namespace {

using torch::jit::Block;
using torch::jit::Node;
using torch::jit::Value;

// Index of the input argument of a layer_norm call (normalized_shape follows
// it), or nullopt when `node` is not one.
std::optional<size_t> LayerNormInputIndex(const Node* node) {
  if (node->kind() == c10::aten::layer_norm) return 0;
  if (node->kind() != c10::prim::CallFunction || node->inputs().size() < 3) return std::nullopt;
  auto fn = node->input(0)->type()->cast<c10::FunctionType>();
  if (!fn) return std::nullopt;
  // "__torch__.torch.nn.functional.layer_norm" once compiled from Python.
  const std::string name = fn->function()->qualname().qualifiedName();
  const std::string functional = "torch.nn.functional.layer_norm";
  if (name.size() < functional.size() ||
      name.compare(name.size() - functional.size(), functional.size(), functional) != 0) {
    return std::nullopt;
  }
  return 1;  // input(0) is the function itself
}

// Number of ints in a constant normalized_shape (a constant list, or a list
// of constants), nullopt when it is not constant (e.g. already rewritten).
std::optional<size_t> ConstantLength(Value* shape) {
  auto iv = torch::jit::toIValue(shape);
  if (iv && iv->isIntList()) return iv->toIntList().size();
  if (shape->node()->kind() != c10::prim::ListConstruct) return std::nullopt;
  for (Value* element : shape->node()->inputs()) {
    auto i = torch::jit::toIValue(element);
    if (!i || !i->isInt()) return std::nullopt;
  }
  return shape->node()->inputs().size();
}

}  // namespace

int MakeLayerNormShapeFollowInput(const torch::jit::Module& layer_norm) {
  int rewritten = 0;
  for (torch::jit::Function* fn : layer_norm.type()->methods()) {
    auto* graph_fn = dynamic_cast<torch::jit::GraphFunction*>(fn);
    if (!graph_fn) continue;
    std::shared_ptr<torch::jit::Graph> graph = graph_fn->graph();
    std::vector<Node*> calls;
    std::function<void(Block*)> collect = [&](Block* block) {
      for (Node* node : block->nodes()) {
        if (LayerNormInputIndex(node)) calls.push_back(node);
        for (Block* b : node->blocks()) collect(b);
      }
    };
    collect(graph->block());
    for (Node* node : calls) {
      const size_t input = *LayerNormInputIndex(node);
      auto length = ConstantLength(node->input(input + 1));
      if (!length) continue;
      torch::jit::WithInsertPoint guard(node);
      std::vector<Value*> sizes;
      for (size_t k = *length; k > 0; --k) {
        Value* dim = graph->insertConstant(-static_cast<int64_t>(k));
        sizes.push_back(graph->insert(c10::aten::size, {node->input(input), dim}));
      }
      Value* shape = graph->insertNode(graph->createList(c10::IntType::get(), sizes))->output();
      node->replaceInput(input + 1, shape);
      ++rewritten;
    }
  }
  return rewritten;
}

}  // namespace prune::engine
