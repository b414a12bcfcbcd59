#include "inferred_shape.h"

#include <torch/csrc/jit/ir/constants.h>

#include <algorithm>
#include <set>
#include <string>

namespace prune::engine {
namespace {

using torch::jit::Node;
using torch::jit::Value;
using Shape = std::vector<int64_t>;

// Deep enough for StochasticDepth's size expression; bounds the recursion.
constexpr int kMaxDepth = 16;

std::optional<Shape> Tensor(const Value* v, const ShapeLookup& recorded, int depth);

std::string KindOf(const Node* node) { return node->kind().toQualString(); }

bool IsIntList(const Value* v) {
  auto list = v->type()->cast<c10::ListType>();
  return list && list->getElementType()->kind() == c10::TypeKind::IntType;
}

// A list is only read for its value when nothing mutates it after construction.
bool NeverMutated(const Value* list) {
  static const std::set<std::string> kMutating = {"aten::append",    "aten::insert", "aten::extend",
                                                  "aten::_set_item", "aten::pop",    "aten::clear",
                                                  "aten::remove",    "aten::add_"};
  return std::none_of(list->uses().begin(), list->uses().end(),
                      [](const auto& use) { return kMutating.count(KindOf(use.user)) > 0; });
}

std::optional<int64_t> Int(const Value* v, const ShapeLookup& recorded, int depth);

std::optional<Shape> IntList(const Value* v, const ShapeLookup& recorded, int depth) {
  if (depth > kMaxDepth || !IsIntList(v) || !NeverMutated(v)) return std::nullopt;
  if (auto iv = torch::jit::toIValue(v); iv && iv->isIntList()) return iv->toIntVector();
  const Node* node = v->node();
  const std::string kind = KindOf(node);
  if (kind == "prim::ListConstruct") {
    Shape out;
    for (const Value* element : node->inputs()) {
      auto i = Int(element, recorded, depth + 1);
      if (!i) return std::nullopt;
      out.push_back(*i);
    }
    return out;
  }
  if (kind == "aten::size" && node->inputs().size() == 1) {
    return Tensor(node->input(0), recorded, depth + 1);
  }
  if (kind == "aten::add" && IsIntList(node->input(1))) {
    auto a = IntList(node->input(0), recorded, depth + 1);
    auto b = IntList(node->input(1), recorded, depth + 1);
    if (!a || !b) return std::nullopt;
    a->insert(a->end(), b->begin(), b->end());
    return a;
  }
  if (kind == "aten::mul") {
    auto list = IntList(node->input(0), recorded, depth + 1);
    auto times = Int(node->input(1), recorded, depth + 1);
    if (!list || !times) return std::nullopt;
    Shape out;
    for (int64_t t = 0; t < *times; ++t) out.insert(out.end(), list->begin(), list->end());
    return out;
  }
  return std::nullopt;
}

std::optional<int64_t> Int(const Value* v, const ShapeLookup& recorded, int depth) {
  if (depth > kMaxDepth || v->type()->kind() != c10::TypeKind::IntType) return std::nullopt;
  if (auto iv = torch::jit::toIValue(v); iv && iv->isInt()) return iv->toInt();
  const Node* node = v->node();
  const std::string kind = KindOf(node);
  if (kind == "aten::dim") {
    auto shape = Tensor(node->input(0), recorded, depth + 1);
    if (!shape) return std::nullopt;
    return static_cast<int64_t>(shape->size());
  }
  const bool indexing = kind == "aten::__getitem__" && IsIntList(node->input(0));
  if (indexing || (kind == "aten::size" && node->inputs().size() == 2)) {
    auto list = indexing ? IntList(node->input(0), recorded, depth + 1)
                         : Tensor(node->input(0), recorded, depth + 1);
    auto index = Int(node->input(1), recorded, depth + 1);
    if (!list || !index) return std::nullopt;
    const auto size = static_cast<int64_t>(list->size());
    const int64_t i = *index < 0 ? *index + size : *index;
    if (i < 0 || i >= size) return std::nullopt;
    return (*list)[i];
  }
  if (kind == "aten::add" || kind == "aten::sub" || kind == "aten::mul") {
    auto a = Int(node->input(0), recorded, depth + 1);
    auto b = Int(node->input(1), recorded, depth + 1);
    if (!a || !b) return std::nullopt;
    if (kind == "aten::add") return *a + *b;
    return kind == "aten::sub" ? *a - *b : *a * *b;
  }
  return std::nullopt;
}

std::optional<Shape> Broadcast(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t x = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t y = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (x != y && x != 1 && y != 1) return std::nullopt;
    out[out.size() - 1 - i] = x == 1 ? y : x;
  }
  return out;
}

std::optional<Shape> Tensor(const Value* v, const ShapeLookup& recorded, int depth) {
  if (const Shape* shape = recorded(v)) return *shape;
  if (depth > kMaxDepth || v->type()->kind() != c10::TypeKind::TensorType) return std::nullopt;
  const Node* node = v->node();
  const std::string kind = KindOf(node);
  static const std::set<std::string> kFactories = {"aten::empty", "aten::zeros", "aten::ones",
                                                   "aten::rand", "aten::randn"};
  if (kFactories.count(kind) && node->inputs().size() > 0) {
    return IntList(node->input(0), recorded, depth + 1);
  }
  // In-place ops (`mul_`, not dunders such as `__and__`) return self.
  const std::string name = node->kind().toUnqualString();
  const bool in_place = name.back() == '_' && name.rfind("__", 0) != 0;
  if (in_place && node->inputs().size() > 0 &&
      node->input(0)->type()->kind() == c10::TypeKind::TensorType) {
    return Tensor(node->input(0), recorded, depth + 1);
  }
  static const std::set<std::string> kBinary = {"aten::add", "aten::sub", "aten::mul", "aten::div"};
  if (kBinary.count(kind) && node->inputs().size() >= 2) {
    std::optional<Shape> out = Shape{};
    for (size_t i = 0; i < 2 && out; ++i) {
      if (node->input(i)->type()->kind() != c10::TypeKind::TensorType) continue;
      auto operand = Tensor(node->input(i), recorded, depth + 1);
      out = operand ? Broadcast(*out, *operand) : std::nullopt;
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::vector<int64_t>> InferShape(const torch::jit::Value* v,
                                               const ShapeLookup& recorded) {
  return Tensor(v, recorded, 0);
}

}  // namespace prune::engine
