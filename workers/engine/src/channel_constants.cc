#include "channel_constants.h"

#include <ATen/core/class_type.h>
#include <torch/script.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

namespace prune::engine {

namespace {

using Counts = std::map<std::string, int64_t>;

std::optional<int64_t> IntConstant(const c10::ClassTypePtr& type, const std::string& name) {
  if (!type->hasConstant(name)) return std::nullopt;
  c10::IValue value = type->getConstant(name);
  if (!value.isInt()) return std::nullopt;
  return value.toInt();
}

std::optional<torch::Tensor> TensorAttr(const torch::jit::Module& module, const std::string& name) {
  if (!module.hasattr(name)) return std::nullopt;
  c10::IValue value = module.attr(name);
  if (!value.isTensor() || !value.toTensor().defined()) return std::nullopt;
  return value.toTensor();
}

// The counts a layer's tensors imply, for the constants its type records.
Counts ActualCounts(const torch::jit::Module& module, bool depthwise) {
  const c10::ClassTypePtr type = module.type();
  Counts counts;
  auto weight = TensorAttr(module, "weight");
  auto in_channels = IntConstant(type, "in_channels");
  auto out_channels = IntConstant(type, "out_channels");
  auto groups = IntConstant(type, "groups");
  if (weight && weight->dim() >= 3 && in_channels && out_channels && groups && *groups > 0) {
    int64_t new_groups = *groups;
    // A depthwise conv keeps its channels per group: groups follows the width.
    if (depthwise) new_groups = weight->size(0) * *groups / *out_channels;
    const bool transposed = module.hasattr("transposed") && module.attr("transposed").isBool() &&
                            module.attr("transposed").toBool();
    // Conv weight: [out, in / groups, k...]; transposed: [in, out / groups, k...].
    counts["groups"] = new_groups;
    counts["in_channels"] = transposed ? weight->size(0) : weight->size(1) * new_groups;
    counts["out_channels"] = transposed ? weight->size(1) * new_groups : weight->size(0);
    return counts;
  }
  if (weight && weight->dim() == 2 && IntConstant(type, "in_features") &&
      IntConstant(type, "out_features")) {
    counts["in_features"] = weight->size(1);
    counts["out_features"] = weight->size(0);
    return counts;
  }
  if (IntConstant(type, "num_features")) {
    auto stats = TensorAttr(module, "running_mean");
    if (!stats) stats = weight;
    if (stats && stats->dim() == 1) counts["num_features"] = stats->size(0);
  }
  return counts;
}

// LayerNorm records `normalized_shape` as a tuple constant: each instance's
// weight has exactly that shape. A stale constant becomes a per-instance
// tuple attribute, as the int counts above do; one that is already an
// attribute (a model pruned before) is updated. Types with an instance
// without weight (not affine) are left alone: nothing says its width.
void RefreshNormalizedShapes(const torch::jit::Module& module) {
  std::map<c10::ClassType*, std::vector<torch::jit::Module>> by_type;
  for (const auto& named : module.named_modules()) {
    const c10::ClassTypePtr type = named.value.type();
    const bool constant =
        type->hasConstant("normalized_shape") && type->getConstant("normalized_shape").isTuple();
    const bool attribute = type->hasAttribute("normalized_shape") &&
                           type->getAttribute("normalized_shape")->cast<c10::TupleType>();
    if (constant || attribute) by_type[type.get()].push_back(named.value);
  }
  for (auto& [type_ptr, instances] : by_type) {
    const c10::ClassTypePtr type = instances.front().type();
    const bool constant = type->hasConstant("normalized_shape");
    const std::vector<c10::IValue> recorded =
        constant ? type->getConstant("normalized_shape").toTupleRef().elements().vec()
                 : std::vector<c10::IValue>{};
    const size_t length =
        constant
            ? recorded.size()
            : type->getAttribute("normalized_shape")->expect<c10::TupleType>()->elements().size();
    std::vector<c10::IValue> actual;
    bool stale = !constant;
    for (const auto& instance : instances) {
      auto weight = TensorAttr(instance, "weight");
      if (!weight || static_cast<size_t>(weight->dim()) != length) break;
      std::vector<c10::IValue> sizes(weight->sizes().begin(), weight->sizes().end());
      stale = stale || !std::equal(sizes.begin(), sizes.end(), recorded.begin(),
                                   [](const c10::IValue& a, const c10::IValue& b) {
                                     return b.isInt() && a.toInt() == b.toInt();
                                   });
      actual.push_back(c10::ivalue::Tuple::create(std::move(sizes)));
    }
    if (!stale || actual.size() != instances.size()) continue;
    if (constant) {
      type->unsafeRemoveConstant("normalized_shape");
      type->addAttribute("normalized_shape", c10::TupleType::create(std::vector<c10::TypePtr>(
                                                 length, c10::IntType::get())));
    }
    const size_t slot = type->getAttributeSlot("normalized_shape");
    for (size_t i = 0; i < instances.size(); ++i) {
      instances[i]._ivalue()->setSlot(slot, actual[i]);
    }
  }
}

}  // namespace

void RefreshChannelConstants(torch::jit::Module& module,
                             const std::vector<std::string>& depthwise_convs) {
  // Instances per class type, with the counts their tensors imply.
  std::map<c10::ClassType*, std::vector<std::pair<torch::jit::Module, Counts>>> by_type;
  for (const auto& named : module.named_modules()) {
    const bool depthwise = std::find(depthwise_convs.begin(), depthwise_convs.end(), named.name) !=
                           depthwise_convs.end();
    by_type[named.value.type().get()].emplace_back(named.value,
                                                   ActualCounts(named.value, depthwise));
  }
  for (auto& [type_ptr, instances] : by_type) {
    // Every instance needs a value once the constant becomes an attribute.
    const Counts& first = instances.front().second;
    const bool all_known = std::all_of(instances.begin(), instances.end(), [&](const auto& i) {
      return !i.second.empty() && i.second.size() == first.size() &&
             std::equal(i.second.begin(), i.second.end(), first.begin(),
                        [](const auto& a, const auto& b) { return a.first == b.first; });
    });
    if (!all_known) continue;
    const c10::ClassTypePtr type = instances.front().first.type();
    for (const auto& [name, unused] : instances.front().second) {
      const int64_t recorded = *IntConstant(type, name);
      const bool stale = std::any_of(instances.begin(), instances.end(),
                                     [&](const auto& i) { return i.second.at(name) != recorded; });
      if (!stale) continue;
      type->unsafeRemoveConstant(name);
      type->addAttribute(name, c10::IntType::get());
      const size_t slot = type->getAttributeSlot(name);
      for (auto& [instance, counts] : instances) {
        instance._ivalue()->setSlot(slot, c10::IValue(counts.at(name)));
      }
    }
  }
  RefreshNormalizedShapes(module);
}

}  // namespace prune::engine
