#include "channel_shuffle.h"

#include "jit_constants.h"

namespace prune::engine {
namespace {

using torch::jit::Node;
using torch::jit::Value;

bool IsView(const Node* node) {
  return node->kind() == c10::aten::view || node->kind() == c10::aten::reshape;
}

// The dim of `x` whose size `v` is at run time (x.size(d), or element d of
// an unpacked x.size()), if it is one.
std::optional<int64_t> SizeDimOf(Value* v, const Value* x) {
  Node* n = v->node();
  if (n->kind() == c10::aten::size && n->inputs().size() == 2 && n->input(0) == x) {
    return ConstantInt(n->input(1));
  }
  if (n->kind() == c10::prim::ListUnpack) {
    Node* size = n->input(0)->node();
    if (size->kind() != c10::aten::size || size->inputs().size() != 1 || size->input(0) != x) {
      return std::nullopt;
    }
    for (size_t i = 0; i < n->outputs().size(); ++i) {
      if (n->output(i) == v) return static_cast<int64_t>(i);
    }
  }
  return std::nullopt;
}

// A size that does not depend on the channel count: a constant equal to the
// recorded `expected`, or x's size at a dim other than the channels (with the
// same recorded value, so that the dims line up).
bool FixedSize(Value* v, const Value* x, const std::vector<int64_t>& x_shape, int64_t expected) {
  if (auto c = ConstantInt(v)) return *c == expected;
  auto dim = SizeDimOf(v, x);
  if (!dim) return false;
  const auto rank = static_cast<int64_t>(x_shape.size());
  const int64_t d = *dim < 0 ? *dim + rank : *dim;
  return d >= 0 && d < rank && d != 1 && x_shape[d] == expected;
}

// The single user of `v`, or nullptr.
Node* OnlyUser(Value* v) { return v->uses().size() == 1 ? v->uses()[0].user : nullptr; }

}  // namespace

std::optional<ChannelShuffle> MatchChannelShuffle(Node* view, const ShapeLookup& shape) {
  if (!IsView(view)) return std::nullopt;
  Value* x = view->input(0);
  const auto* in = shape(x);
  const auto* split = shape(view->output());
  if (!in || !split || in->size() < 2 || split->size() != in->size() + 1) return std::nullopt;
  const int64_t channels = (*in)[1];
  const int64_t groups = (*split)[1];
  if (groups < 2 || channels % groups != 0 || (*split)[2] != channels / groups ||
      (*split)[0] != (*in)[0]) {
    return std::nullopt;
  }
  for (size_t d = 2; d < in->size(); ++d) {
    if ((*split)[d + 1] != (*in)[d]) return std::nullopt;
  }
  // First view: [n, g, x.size(1) // g or -1, spatial...].
  Node* sizes = view->input(1)->node();
  if (sizes->kind() != c10::prim::ListConstruct || sizes->inputs().size() != split->size()) {
    return std::nullopt;
  }
  if (ConstantInt(sizes->input(1)) != groups) return std::nullopt;
  Value* per_group = sizes->input(2);
  bool per_group_ok = ConstantInt(per_group) == -1;
  if (Node* div = per_group->node(); div->kind() == c10::aten::floordiv) {
    per_group_ok = SizeDimOf(div->input(0), x) == 1 && ConstantInt(div->input(1)) == groups;
  }
  if (!per_group_ok || !FixedSize(sizes->input(0), x, *in, (*in)[0])) return std::nullopt;
  for (size_t d = 2; d < in->size(); ++d) {
    if (!FixedSize(sizes->input(d + 1), x, *in, (*in)[d])) return std::nullopt;
  }
  ChannelShuffle result;
  result.groups = groups;
  // transpose(1, 2) [, contiguous].
  Node* transpose = OnlyUser(view->output());
  if (!transpose || transpose->kind() != c10::aten::transpose) return std::nullopt;
  auto d0 = ConstantInt(transpose->input(1));
  auto d1 = ConstantInt(transpose->input(2));
  if (!d0 || !d1 || std::min(*d0, *d1) != 1 || std::max(*d0, *d1) != 2) return std::nullopt;
  result.nodes.push_back(transpose);
  Node* next = OnlyUser(transpose->output());
  if (next && next->kind() == c10::aten::contiguous) {
    result.nodes.push_back(next);
    next = OnlyUser(next->output());
  }
  // Back to [n, C, spatial...]: a view with -1 or x.size(1) as channel size.
  if (!next || !IsView(next)) return std::nullopt;
  const auto* out = shape(next->output());
  if (!out || *out != *in) return std::nullopt;
  Node* back = next->input(1)->node();
  if (back->kind() != c10::prim::ListConstruct || back->inputs().size() != in->size()) {
    return std::nullopt;
  }
  if (ConstantInt(back->input(1)) != -1 && SizeDimOf(back->input(1), x) != 1) return std::nullopt;
  for (size_t d = 0; d < in->size(); ++d) {
    if (d != 1 && !FixedSize(back->input(d), x, *in, (*in)[d])) return std::nullopt;
  }
  result.nodes.push_back(next);
  result.output = next->output();
  return result;
}

}  // namespace prune::engine
