#include "analysis.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <algorithm>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "channel_dim.h"
#include "channel_shuffle.h"
#include "engine_error.h"
#include "inferred_shape.h"
#include "jit_constants.h"

namespace prune::engine {
namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

bool IsTensor(const Value* v) { return v->type()->kind() == c10::TypeKind::TensorType; }

// Identifies a member's slice of a tensor: the same weight used twice (a
// shared module) must be pruned alike.
std::string MemberKey(const SliceMember& m) {
  return m.module_path + "/" + m.tensor_name + "/" + std::to_string(m.dim) + "/" +
         std::to_string(m.offset);
}

// "file.py:42" for the Python source that produced `node`, when known.
std::string Where(const Node* node) {
  auto range = node->sourceRange();
  if (auto original = range.findSourceRangeThatGenerated()) range = *original;
  if (auto file_line_col = range.file_line_col()) {
    return std::get<0>(*file_line_col) + ":" + std::to_string(std::get<1>(*file_line_col));
  }
  return "unknown source line";
}

std::string Describe(const Node* node) {
  return std::string(node->kind().toQualString()) + " at " + Where(node);
}

// An int list (or one int, which PyTorch broadcasts to `dims` values) given
// as a constant; empty otherwise.
std::vector<int64_t> ConstantInts(Value* v, size_t dims) {
  auto iv = torch::jit::toIValue(v);
  if (iv && iv->isIntList()) {
    auto list = iv->toIntVector();
    if (list.size() == 1 && dims > 1) list.assign(dims, list[0]);
    return list;
  }
  if (iv && iv->isInt()) return std::vector<int64_t>(dims, iv->toInt());
  return {};
}

// Explicit padding of a conv whose padding argument is "same" or "valid" (the
// string overload of conv2d): "same" pads dilation * (k - 1) / 2 per side
// (exact for odd kernels, the usual case).
std::vector<int64_t> ConvPadding(Value* v, const std::vector<int64_t>& kernel,
                                 const std::vector<int64_t>& dilation) {
  auto iv = torch::jit::toIValue(v);
  if (iv && iv->isString()) {
    const std::string mode = iv->toStringRef();
    std::vector<int64_t> pad(kernel.size(), 0);
    if (mode == "same" && dilation.size() == kernel.size()) {
      for (size_t d = 0; d < kernel.size(); ++d) pad[d] = dilation[d] * (kernel[d] - 1) / 2;
    }
    return mode == "same" || mode == "valid" ? pad : std::vector<int64_t>{};
  }
  return ConstantInts(v, kernel.size());
}

// Flow of the channel dimension through one tensor value.
// One run of channels of a concatenated tensor (space -1: never pruned).
struct Part {
  int space = -1;
  int64_t channels = 0;
  int64_t block = 1;
};

// Either one space (`space` >= 0), or a channel-wise concatenation (`parts`),
// or nothing known (the channels are not pruned).
struct Flow {
  int space = -1;
  int64_t block = 1;  // > 1 once flattened: columns per channel
  std::vector<Part> parts;
  bool channel_last = false;  // channels on the last dim (Linear on [N, ..., C])
  bool any() const { return space >= 0 || !parts.empty(); }
};

struct Space {
  int64_t channels = 0;
  bool fixed = false;
  std::vector<std::string> reasons;
  std::vector<SliceMember> members;
  std::vector<std::string> producers;
  // A *view* re-expresses this space through a smaller `inner` space (which
  // then holds the members, reasons and producers): the channels are `tiles`
  // equal runs (a grouped conv's groups, a chunk's pieces) that lose the same
  // positions, and within a run each inner channel stands for `unit`
  // consecutive channels (a channel shuffle's interleaving). Channel c maps to
  // inner channel (c / unit) mod (channels / (tiles * unit)).
  int inner = -1;
  int64_t tiles = 1;
  int64_t unit = 1;
  bool is_view() const { return inner >= 0; }
};

class GraphAnalyzer {
 public:
  GraphAnalyzer(const torch::jit::Module& module, std::shared_ptr<Graph> graph,
                std::unordered_map<const Value*, std::vector<int64_t>> shapes)
      : module_(module), graph_(std::move(graph)), shapes_(std::move(shapes)) {}

  ModelAnalysis Run();

 private:
  using Handler = void (GraphAnalyzer::*)(Node*);
  static const std::unordered_map<std::string, Handler>& Handlers();

  void VisitBlock(Block* block);
  void VisitNode(Node* node);
  void OnUnknown(Node* node);
  void OnConv(Node* node);
  void OnLinear(Node* node);
  void OnBatchNorm(Node* node);
  void OnPassThrough(Node* node);
  void OnPool(Node* node);
  void OnElementwise(Node* node);
  void OnFlatten(Node* node);
  void OnSize(Node* node);
  void OnMetadata(Node*) {}
  void OnIf(Node* node);
  void OnCat(Node* node);
  void OnMean(Node* node);
  void OnListConstruct(Node* node);
  void OnAppend(Node* node);
  void OnConvTranspose(Node* node);
  // ShuffleNet: channel shuffle (view / transpose / view) and chunk / split
  // into equal pieces, followed through views of spaces (`Space::inner`).
  void OnView(Node* node);
  void OnChunk(Node* node);
  std::string LayoutOf(int space);
  void MarkOutput(Value* v, const std::string& reason);
  void FixFlow(const Flow& f, const std::string& reason);
  void FixValue(Value* v, const std::string& reason);
  // Consumer members of a weight reading `in` along `dim` (parts at offsets).
  void AddConsumer(const Flow& in, const std::string& path, const std::string& tensor, int64_t dim,
                   MemberRole role);
  std::vector<Part> PartsOf(const Value* v);
  bool OnlyFeedsConvGroups(Value* v) const;
  // Channel-last blocks (ConvNeXt): permute, layer_norm over the channels,
  // per-channel parameters of element-wise ops (layer scale).
  void OnPermute(Node* node);
  void OnLayerNorm(Node* node);
  std::optional<std::vector<int64_t>> IntListArgument(Value* v) const;
  std::optional<std::vector<int64_t>> LayerNormShape(Node* node) const;
  bool OnlyFeedsLayerNormShape(Value* size, const Value* tensor) const;
  std::optional<SliceMember> PerChannelParameter(Value* operand, const Flow& result,
                                                 int64_t channel_dim);
  // Recorded shape, or for values inside untaken branches one derived from
  // recorded shapes (inferred_shape.h).
  const std::vector<int64_t>* KnownShape(const Value* v);

  int NewSpace(int64_t channels, const std::string& producer);
  int Find(int space);
  int Union(int a, int b, Node* where);
  int Canon(int space);
  int UnionViews(int a, int b, Node* where);
  bool Reshape(int space, int64_t tiles, int64_t unit);
  int SplitRuns(int space, int64_t runs);
  int NewView(int inner, int64_t tiles, int64_t unit);
  void Fix(int space, const std::string& reason);
  void AddMember(int space, SliceMember member);
  void AppendRuns(int space, int64_t channels, int64_t block, std::vector<Part>* runs);
  std::vector<Part> ExpandTiles(const std::vector<Part>& parts);
  void OnGroupedConv(Node* node, const Layer& layer, const std::string& weight_name, const Flow& in,
                     int out_space, int* in_space);
  void FixUsesInside(Block* block, const std::string& reason);

  const std::vector<int64_t>* ShapeOf(const Value* v) const {
    auto it = shapes_.find(v);
    return it == shapes_.end() ? nullptr : &it->second;
  }
  Flow FlowOf(const Value* v) const {
    auto it = flow_.find(v);
    return it == flow_.end() ? Flow{} : it->second;
  }
  void SetFlow(const Value* v, Flow f) {
    if (f.any()) flow_[v] = std::move(f);
  }
  void PushLayer(const Layer& layer, const Flow& in, int out_space) {
    layer_in_space_.push_back(in.parts.empty() ? in.space : -1);
    layer_in_parts_.push_back(in.parts);
    layer_out_space_.push_back(out_space);
    layer_out_parts_.push_back({});
    layers_.push_back(layer);
  }
  // (module path, attribute name) of a value read by a prim::GetAttr chain from self.
  std::optional<std::pair<std::string, std::string>> ResolveAttr(Value* v) const;
  bool AttrIsTensor(const std::string& path, const std::string& name) const;
  torch::Tensor AttrTensor(const std::string& path, const std::string& name) const;

  torch::jit::Module module_;
  std::shared_ptr<Graph> graph_;
  std::unordered_map<const Value*, std::vector<int64_t>> shapes_;
  std::unordered_map<const Value*, Flow> flow_;
  std::vector<int> parent_;
  std::vector<Space> spaces_;
  std::map<std::string, int> member_space_;  // "path/tensor/dim" -> space
  std::vector<Layer> layers_;
  std::vector<int> layer_in_space_, layer_out_space_;
  std::vector<std::vector<Part>> layer_in_parts_, layer_out_parts_;
  std::unordered_map<const Value*, std::vector<Value*>> lists_;  // tensor list contents
  std::vector<std::string> depthwise_convs_;
  std::unordered_map<const Value*, std::vector<int64_t>> inferred_shapes_;
  std::set<const Node*> handled_;  // nodes of a pattern matched at its first node
};

const std::unordered_map<std::string, GraphAnalyzer::Handler>& GraphAnalyzer::Handlers() {
  static const auto* handlers = [] {
    auto* h = new std::unordered_map<std::string, Handler>();
    for (const char* k : {"aten::conv1d", "aten::conv2d", "aten::conv3d", "aten::_convolution",
                          "aten::convolution"}) {
      (*h)[k] = &GraphAnalyzer::OnConv;
    }
    (*h)["aten::linear"] = &GraphAnalyzer::OnLinear;
    (*h)["aten::batch_norm"] = &GraphAnalyzer::OnBatchNorm;
    (*h)["aten::layer_norm"] = &GraphAnalyzer::OnLayerNorm;
    (*h)["aten::permute"] = &GraphAnalyzer::OnPermute;
    for (const char* k : {"aten::relu",          "aten::relu_",       "aten::relu6",
                          "aten::relu6_",        "aten::hardtanh",    "aten::hardtanh_",
                          "aten::leaky_relu",    "aten::leaky_relu_", "aten::sigmoid",
                          "aten::sigmoid_",      "aten::tanh",        "aten::tanh_",
                          "aten::gelu",          "aten::silu",        "aten::silu_",
                          "aten::hardswish",     "aten::hardswish_",  "aten::hardsigmoid",
                          "aten::hardsigmoid_",  "aten::elu",         "aten::elu_",
                          "aten::dropout",       "aten::dropout_",    "aten::feature_dropout",
                          "aten::alpha_dropout", "aten::contiguous",  "aten::clone",
                          "aten::detach",        "aten::to",          "aten::clamp",
                          "aten::clamp_",        "aten::neg",         "aten::gelu_",
                          "aten::mish",          "aten::mish_",       "aten::softplus"}) {
      (*h)[k] = &GraphAnalyzer::OnPassThrough;
    }
    for (const char* k :
         {"aten::max_pool1d", "aten::max_pool2d", "aten::max_pool3d", "aten::avg_pool1d",
          "aten::avg_pool2d", "aten::avg_pool3d", "aten::adaptive_avg_pool1d",
          "aten::adaptive_avg_pool2d", "aten::adaptive_avg_pool3d", "aten::adaptive_max_pool1d",
          "aten::adaptive_max_pool2d", "aten::max_pool2d_with_indices"}) {
      (*h)[k] = &GraphAnalyzer::OnPool;
    }
    for (const char* k : {"aten::add", "aten::add_", "aten::sub", "aten::sub_", "aten::mul",
                          "aten::mul_", "aten::div", "aten::div_"}) {
      (*h)[k] = &GraphAnalyzer::OnElementwise;
    }
    (*h)["aten::flatten"] = &GraphAnalyzer::OnFlatten;
    (*h)["aten::size"] = &GraphAnalyzer::OnSize;
    for (const char* k : {"aten::dim", "prim::device", "prim::dtype", "aten::__is__",
                          "aten::__isnot__", "prim::isinstance", "aten::is_floating_point"}) {
      (*h)[k] = &GraphAnalyzer::OnMetadata;
    }
    (*h)["prim::If"] = &GraphAnalyzer::OnIf;
    (*h)["aten::cat"] = &GraphAnalyzer::OnCat;
    (*h)["aten::view"] = &GraphAnalyzer::OnView;
    (*h)["aten::reshape"] = &GraphAnalyzer::OnView;
    (*h)["aten::chunk"] = &GraphAnalyzer::OnChunk;
    (*h)["aten::split"] = &GraphAnalyzer::OnChunk;
    (*h)["aten::mean"] = &GraphAnalyzer::OnMean;
    (*h)["prim::ListConstruct"] = &GraphAnalyzer::OnListConstruct;
    (*h)["aten::append"] = &GraphAnalyzer::OnAppend;
    for (const char* k :
         {"aten::conv_transpose1d", "aten::conv_transpose2d", "aten::conv_transpose3d"}) {
      (*h)[k] = &GraphAnalyzer::OnConvTranspose;
    }
    return h;
  }();
  return *handlers;
}

int GraphAnalyzer::NewSpace(int64_t channels, const std::string& producer) {
  int id = static_cast<int>(spaces_.size());
  parent_.push_back(id);
  Space s;
  s.channels = channels;
  s.producers.push_back(producer);
  spaces_.push_back(std::move(s));
  return id;
}

int GraphAnalyzer::Find(int space) {
  while (parent_[space] != space) {
    parent_[space] = parent_[parent_[space]];
    space = parent_[space];
  }
  return space;
}

int GraphAnalyzer::Union(int a, int b, Node* where) {
  a = Canon(a);
  b = Canon(b);
  if (a == b) return a;
  if (spaces_[a].is_view() || spaces_[b].is_view()) return UnionViews(a, b, where);
  if (b < a) std::swap(a, b);
  Space& into = spaces_[a];
  Space& from = spaces_[b];
  bool mismatch = into.channels != from.channels;
  into.fixed = into.fixed || from.fixed;
  for (auto& r : from.reasons) into.reasons.push_back(std::move(r));
  for (auto& m : from.members) into.members.push_back(std::move(m));
  for (auto& p : from.producers) into.producers.push_back(std::move(p));
  from = Space{};
  parent_[b] = a;
  if (mismatch) {
    Fix(a,
        "channel counts differ where coupled by " + (where ? Describe(where) : "a shared tensor"));
  }
  return a;
}

// Root of `space` with its view (if any) pointing straight at a plain space:
// a view of a view composes (tiles and units multiply), because a view's
// channel map (c / unit) mod n stays of that form when n is itself a view's
// channel count.
int GraphAnalyzer::Canon(int space) {
  const int root = Find(space);
  while (spaces_[root].is_view()) {
    const int inner = Find(spaces_[root].inner);
    spaces_[root].inner = inner;
    if (!spaces_[inner].is_view()) break;
    spaces_[root].tiles *= spaces_[inner].tiles;
    spaces_[root].unit *= spaces_[inner].unit;
    spaces_[root].inner = spaces_[inner].inner;
  }
  return root;
}

// Coupling two roots of which at least one is a view: both are re-expressed
// with the same layout (the finer tiling / coarser unit of the two), then
// their inner spaces are coupled. Layouts that do not nest (runs of 4 and
// of 2 conv groups, units that do not divide) stay as they are, fixed.
int GraphAnalyzer::UnionViews(int a, int b, Node* where) {
  const std::string at = where ? Describe(where) : "a shared tensor";
  for (int attempt = 0; attempt < 8; ++attempt) {
    a = Canon(a);
    b = Canon(b);
    if (a == b) return a;
    if (spaces_[a].channels != spaces_[b].channels) {
      Fix(a, "channel counts differ where coupled by " + at);
      Fix(b, "channel counts differ where coupled by " + at);
      return a;
    }
    const int64_t ta = spaces_[a].tiles, tb = spaces_[b].tiles;
    const int64_t ua = spaces_[a].unit, ub = spaces_[b].unit;
    if (spaces_[a].is_view() && spaces_[b].is_view() && ta == tb && ua == ub) {
      if (b < a) std::swap(a, b);
      const int inner = Union(spaces_[a].inner, spaces_[b].inner, where);
      spaces_[a].inner = inner;
      parent_[b] = a;
      spaces_[b] = Space{};  // a view holds nothing itself
      return a;
    }
    const int64_t tiles = std::max(ta, tb);
    const int64_t unit = std::max(ua, ub);
    std::string reason;
    if (ta > 1 && tb > 1 && ta != tb) {
      reason = "channels split into different numbers of conv groups (" + std::to_string(ta) +
               " and " + std::to_string(tb) + ") where coupled by " + at;
    } else if (unit % ua != 0 || unit % ub != 0) {
      reason = "channel shuffles interleave the channels in units of " + std::to_string(ua) +
               " and " + std::to_string(ub) + " where coupled by " + at;
    } else if (!Reshape(a, tiles, unit) || !Reshape(b, tiles, unit)) {
      reason = "channels cannot be laid out as " + std::to_string(tiles) + " runs of units of " +
               std::to_string(unit) + " where coupled by " + at;
    }
    if (!reason.empty()) {
      Fix(a, reason);
      Fix(b, reason);
      return Find(a);
    }
  }
  Fix(a, "channel layouts do not settle where coupled by " + at);
  Fix(b, "channel layouts do not settle where coupled by " + at);
  return Find(a);
}

// Makes `space` a view of exactly `tiles` runs of `unit`-channel units (a
// plain space: a new inner space takes over its members, one copy per run
// at the run's offset with the unit as block, and its producers and
// reasons; a view: its inner space is re-expressed by the missing factors).
// False when the channels do not divide that way.
bool GraphAnalyzer::Reshape(int space, int64_t tiles, int64_t unit) {
  const int root = Canon(space);
  if (spaces_[root].is_view()) {
    const int64_t t0 = spaces_[root].tiles, u0 = spaces_[root].unit;
    if (t0 == tiles && u0 == unit) return true;
    if (tiles % t0 != 0 || unit % u0 != 0) return false;
    if (!Reshape(spaces_[root].inner, tiles / t0, unit / u0)) return false;
    Canon(root);
    return true;
  }
  if (tiles == 1 && unit == 1) return true;
  if (tiles < 1 || unit < 1 || spaces_[root].channels % (tiles * unit) != 0) return false;
  const int inner = static_cast<int>(spaces_.size());
  parent_.push_back(inner);
  spaces_.emplace_back();
  Space& whole = spaces_[root];
  Space& run = spaces_[inner];
  run.channels = whole.channels / (tiles * unit);
  run.fixed = whole.fixed;
  run.reasons = std::move(whole.reasons);
  run.producers = std::move(whole.producers);
  std::vector<SliceMember> members = std::move(whole.members);
  const int64_t channels = whole.channels;
  whole = Space{};
  whole.channels = channels;
  whole.inner = inner;
  whole.tiles = tiles;
  whole.unit = unit;
  for (const SliceMember& m : members) {
    member_space_.erase(MemberKey(m));
    AddMember(root, m);
  }
  return true;
}

// The space of one of `runs` equal runs of `space` when every run must lose
// the same positions (channel j of it stands for channel j of each run), or
// -1 when the channels do not divide that way.
int GraphAnalyzer::SplitRuns(int space, int64_t runs) {
  int root = Canon(space);
  const int64_t t0 = spaces_[root].tiles;
  const int64_t tiles = std::lcm(t0, runs);
  if (!Reshape(root, tiles, spaces_[root].unit)) return -1;
  root = Canon(root);
  return NewView(spaces_[root].inner, tiles / runs, spaces_[root].unit);
}

// A new space of tiles * unit * |inner| channels viewing `inner` (the inner
// space itself for a trivial view).
int GraphAnalyzer::NewView(int inner, int64_t tiles, int64_t unit) {
  inner = Canon(inner);
  if (tiles == 1 && unit == 1) return inner;
  const int id = static_cast<int>(spaces_.size());
  parent_.push_back(id);
  Space s;
  s.channels = spaces_[inner].channels * tiles * unit;
  s.inner = inner;
  s.tiles = tiles;
  s.unit = unit;
  spaces_.push_back(std::move(s));
  return Canon(id);
}

// The runs a layer sees of `channels` channels of `space`: one part, or for
// a view one part of its inner space per run and unit (their order does not
// matter: layers only count kept channels).
void GraphAnalyzer::AppendRuns(int space, int64_t channels, int64_t block,
                               std::vector<Part>* runs) {
  const int root = Canon(space);
  const Space& s = spaces_[root];
  if (s.is_view()) {
    const int64_t copies = s.tiles * s.unit;
    const int inner = s.inner;
    for (int64_t t = 0; t < copies; ++t) AppendRuns(inner, channels / copies, block, runs);
    return;
  }
  runs->push_back(Part{root, channels, block});
}

std::vector<Part> GraphAnalyzer::ExpandTiles(const std::vector<Part>& parts) {
  std::vector<Part> runs;
  for (const Part& p : parts) {
    if (p.space < 0) {
      runs.push_back(p);
    } else {
      AppendRuns(p.space, p.channels, p.block, &runs);
    }
  }
  return runs;
}

void GraphAnalyzer::Fix(int space, const std::string& reason) {
  const int root = Canon(space);
  if (spaces_[root].is_view()) {
    Fix(spaces_[root].inner, reason);
    return;
  }
  Space& s = spaces_[root];
  s.fixed = true;
  if (std::find(s.reasons.begin(), s.reasons.end(), reason) == s.reasons.end()) {
    s.reasons.push_back(reason);
  }
}

void GraphAnalyzer::AddMember(int space, SliceMember member) {
  const int root = Canon(space);
  if (spaces_[root].is_view()) {
    // Inner channel j is channel j * unit .. (j + 1) * unit - 1 of every run:
    // one member per run, `unit` times the block.
    const int inner = spaces_[root].inner;
    const int64_t tiles = spaces_[root].tiles;
    const int64_t run = spaces_[root].channels / tiles;
    for (int64_t t = 0; t < tiles; ++t) {
      SliceMember copy = member;
      copy.offset = member.offset + t * run * member.block;
      copy.block = member.block * spaces_[root].unit;
      AddMember(inner, std::move(copy));
    }
    return;
  }
  std::string key = MemberKey(member);
  auto it = member_space_.find(key);
  if (it != member_space_.end()) {
    // The same weight is used twice (shared module): both uses must agree.
    Union(root, it->second, nullptr);
    return;
  }
  member_space_[key] = root;
  spaces_[Find(root)].members.push_back(std::move(member));
}

std::optional<std::pair<std::string, std::string>> GraphAnalyzer::ResolveAttr(Value* v) const {
  std::vector<std::string> names;
  while (v->node()->kind() == c10::prim::GetAttr) {
    names.push_back(v->node()->s(c10::attr::name));
    v = v->node()->input(0);
  }
  if (v != graph_->inputs().at(0) || names.empty()) return std::nullopt;
  std::reverse(names.begin(), names.end());
  std::string path;
  for (size_t i = 0; i + 1 < names.size(); ++i) path += (i ? "." : "") + names[i];
  return std::make_pair(path, names.back());
}

bool GraphAnalyzer::AttrIsTensor(const std::string& path, const std::string& name) const {
  auto sub = SubmoduleAt(module_, path);
  return sub.hasattr(name) && sub.attr(name).isTensor();
}

torch::Tensor GraphAnalyzer::AttrTensor(const std::string& path, const std::string& name) const {
  return SubmoduleAt(module_, path).attr(name).toTensor();
}

void GraphAnalyzer::VisitBlock(Block* block) {
  for (Node* node : block->nodes()) VisitNode(node);
}

void GraphAnalyzer::VisitNode(Node* node) {
  if (handled_.count(node)) return;
  const auto& handlers = Handlers();
  auto it = handlers.find(node->kind().toQualString());
  if (it != handlers.end()) {
    (this->*(it->second))(node);
  } else {
    OnUnknown(node);
  }
}

void GraphAnalyzer::FixFlow(const Flow& f, const std::string& reason) {
  if (f.space >= 0) Fix(f.space, reason);
  for (const Part& p : f.parts) {
    if (p.space >= 0) Fix(p.space, reason);
  }
}

// A value reaching something not understood: its channels (or, for a tensor
// list, those of every element) must not change.
void GraphAnalyzer::FixValue(Value* v, const std::string& reason) {
  FixFlow(FlowOf(v), reason);
  auto it = lists_.find(v);
  if (it != lists_.end()) {
    for (Value* element : it->second) FixFlow(FlowOf(element), reason);
  }
}

void GraphAnalyzer::FixUsesInside(Block* block, const std::string& reason) {
  for (Node* inner : block->nodes()) {
    for (Value* in : inner->inputs()) FixValue(in, reason);
    for (Block* b : inner->blocks()) FixUsesInside(b, reason);
  }
  for (Value* out : block->outputs()) FixValue(out, reason);
}

// Anything not understood: channels reaching it must not change.
void GraphAnalyzer::OnUnknown(Node* node) {
  std::string reason = "used by unsupported op " + Describe(node);
  for (Value* in : node->inputs()) FixValue(in, reason);
  for (Block* b : node->blocks()) FixUsesInside(b, reason);
}

std::vector<Part> GraphAnalyzer::PartsOf(const Value* v) {
  Flow f = FlowOf(v);
  if (!f.parts.empty()) return f.parts;
  if (f.space >= 0) return {Part{f.space, spaces_[Find(f.space)].channels, f.block}};
  const auto* shape = ShapeOf(v);
  if (!shape || shape->size() < 2) return {};
  return {Part{-1, (*shape)[1], 1}};
}

void GraphAnalyzer::AddConsumer(const Flow& in, const std::string& path, const std::string& tensor,
                                int64_t dim, MemberRole role) {
  if (in.space >= 0) {
    AddMember(in.space, {path, tensor, dim, in.block, role, 0});
    return;
  }
  int64_t offset = 0;
  for (const Part& p : in.parts) {
    if (p.space >= 0) AddMember(p.space, {path, tensor, dim, p.block, role, offset});
    offset += p.channels * p.block;
  }
}

// The size feeds only `floordiv`s that feed only conv `groups` arguments: the
// form surgery gives a depthwise conv whose channels were pruned.
bool GraphAnalyzer::OnlyFeedsConvGroups(Value* v) const {
  if (v->uses().empty()) return false;
  for (const auto& use : v->uses()) {
    Node* div = use.user;
    if (div->kind() != c10::aten::floordiv || div->output()->uses().empty()) return false;
    for (const auto& conv_use : div->output()->uses()) {
      std::string kind = conv_use.user->kind().toQualString();
      bool conv = kind == "aten::conv1d" || kind == "aten::conv2d" || kind == "aten::conv3d";
      if (!conv || conv_use.offset != 6) return false;
    }
  }
  return true;
}

void GraphAnalyzer::OnConv(Node* node) {
  const std::string kind = node->kind().toQualString();
  bool full_signature = kind == "aten::_convolution" || kind == "aten::convolution";
  auto weight = ResolveAttr(node->input(1));
  std::optional<int64_t> groups = ConstantInt(node->input(full_signature ? 8 : 6));
  bool transposed = false;
  if (full_signature) {
    auto t = torch::jit::toIValue(node->input(6));
    transposed = !t || !t->isBool() || t->toBool();
  }
  const auto* out_shape = ShapeOf(node->output());
  const auto* in_shape = ShapeOf(node->input(0));
  Flow in = FlowOf(node->input(0));
  if (weight && !groups && !full_signature && in_shape && in_shape->size() > 1) {
    // groups computed from the sizes (a depthwise conv pruned by this engine).
    int64_t per_group = AttrTensor(weight->first, weight->second).size(1);
    if (per_group > 0 && (*in_shape)[1] % per_group == 0) groups = (*in_shape)[1] / per_group;
  }
  if (!weight || !groups || transposed || !out_shape || in.channel_last) {
    OnUnknown(node);
    return;
  }
  torch::Tensor w = AttrTensor(weight->first, weight->second);
  Layer layer;
  layer.name = weight->first;
  layer.kind = LayerKind::kConv;
  layer.out_channels = w.size(0);
  layer.in_channels = w.size(1) * *groups;
  layer.conv_groups = *groups;
  layer.kernel_elements = 1;
  for (int64_t d = 2; d < w.dim(); ++d) layer.kernel_elements *= w.size(d);
  layer.out_spatial = 1;
  for (size_t d = 2; d < out_shape->size(); ++d) layer.out_spatial *= (*out_shape)[d];
  layer.has_bias = AttrIsTensor(weight->first, "bias");
  // conv{1,2,3}d(input, weight, bias, stride, padding, dilation, groups);
  // _convolution / convolution(input, weight, bias, stride, padding, dilation, ...).
  if (in_shape) layer.in_shape = *in_shape;
  for (int64_t d = 2; d < w.dim(); ++d) layer.kernel.push_back(w.size(d));
  layer.stride = ConstantInts(node->input(3), layer.kernel.size());
  layer.dilation = ConstantInts(node->input(5), layer.kernel.size());
  layer.padding = ConvPadding(node->input(4), layer.kernel, layer.dilation);

  int out_space = NewSpace(layer.out_channels, layer.name);
  AddMember(out_space, {layer.name, weight->second, 0, 1, MemberRole::kProducer});
  if (layer.has_bias) AddMember(out_space, {layer.name, "bias", 0, 1, MemberRole::kProducer});
  bool depthwise = *groups > 1 && *groups == layer.in_channels && *groups == layer.out_channels;
  int in_space = -1;
  if (*groups == 1) {
    if (in.any()) {
      bool flattened = in.block != 1;
      for (const Part& p : in.parts) flattened = flattened || p.block != 1;
      if (flattened) {
        FixFlow(in, "flattened tensor fed to " + Describe(node));
      } else {
        AddConsumer(in, layer.name, weight->second, 1, MemberRole::kConsumer);
        in_space = in.space;
      }
    }
  } else if (depthwise && in.space >= 0 && in.block == 1) {
    // Each channel is its own group: input and output channels are removed
    // together, and surgery rewrites the class's `groups`.
    layer.depthwise = true;
    out_space = Union(in.space, out_space, node);
    in_space = out_space;
    depthwise_convs_.push_back(layer.name);
  } else if (depthwise && !in.any()) {
    // Input never pruned: neither can the output be (groups == channels).
    Fix(out_space, "depthwise conv " + layer.name + " reads channels that are not pruned (" +
                       Describe(node) + ")");
  } else if (depthwise) {
    std::string reason =
        "depthwise conv on a concatenated / flattened input " + layer.name + " at " + Where(node);
    FixFlow(in, reason);
    Fix(out_space, reason);
  } else {
    OnGroupedConv(node, layer, weight->second, in, out_space, &in_space);
  }
  Flow layer_in;
  if (in_space >= 0) layer_in.space = in_space;
  if (*groups == 1 && !in.parts.empty() && !FlowOf(node->input(0)).parts.empty()) {
    bool flattened = false;
    for (const Part& p : in.parts) flattened = flattened || p.block != 1;
    if (!flattened) layer_in = in;
  }
  PushLayer(layer, layer_in, out_space);
  SetFlow(node->output(), Flow{out_space, 1, {}, false});
}

// A grouped conv that is not depthwise (ResNeXt, RegNet): weight [out,
// in / groups, k...] connects run g of its input channels only to run g of
// its output channels. Removing the same positions from every run of both
// keeps `groups` and that wiring, so both spaces are tiled into `groups` runs;
// the weight's dim 1 (one run of input channels) belongs to the input's
// per-tile space. Output channels stay prunable when the input cannot be.
void GraphAnalyzer::OnGroupedConv(Node* node, const Layer& layer, const std::string& weight_name,
                                  const Flow& in, int out_space, int* in_space) {
  const int64_t groups = layer.conv_groups;
  const std::string conv =
      "grouped conv " + layer.name + " (groups=" + std::to_string(groups) + ") at " + Where(node);
  if (!in.any()) {
    // Input never pruned: only the output is.
  } else if (!in.parts.empty() || in.block != 1) {
    FixFlow(in, conv + " reads a concatenated / flattened tensor");
  } else if (const int64_t tiles = spaces_[Canon(in.space)].tiles; tiles != 1 && tiles != groups) {
    FixFlow(in, conv + " reads channels that are split into " + std::to_string(tiles) +
                    " conv groups elsewhere");
  } else if (const int run = SplitRuns(in.space, groups); run < 0) {
    FixFlow(in, conv + " reads channels that do not divide into its groups");
  } else {
    AddMember(run, {layer.name, weight_name, 1, 1, MemberRole::kConsumer, 0});
    *in_space = in.space;
  }
  if (SplitRuns(out_space, groups) < 0) {
    Fix(out_space, conv + ": output channels do not divide into the groups");
  }
}

// conv_transposeNd(input, weight [in, out / groups, k...], bias, stride,
// padding, output_padding, groups, dilation).
void GraphAnalyzer::OnConvTranspose(Node* node) {
  auto weight = ResolveAttr(node->input(1));
  std::optional<int64_t> groups = ConstantInt(node->input(6));
  const auto* in_shape = ShapeOf(node->input(0));
  Flow in = FlowOf(node->input(0));
  if (!weight || !groups || !in_shape || in.channel_last || !in.parts.empty() || in.block != 1) {
    OnUnknown(node);
    return;
  }
  torch::Tensor w = AttrTensor(weight->first, weight->second);
  Layer layer;
  layer.name = weight->first;
  layer.kind = LayerKind::kConv;
  layer.transposed = true;
  layer.in_channels = w.size(0);
  layer.out_channels = w.size(1) * *groups;
  layer.conv_groups = *groups;
  for (int64_t d = 2; d < w.dim(); ++d) layer.kernel_elements *= w.size(d);
  for (size_t d = 2; d < in_shape->size(); ++d) layer.out_spatial *= (*in_shape)[d];
  layer.has_bias = AttrIsTensor(weight->first, "bias");
  layer.in_shape = *in_shape;
  for (int64_t d = 2; d < w.dim(); ++d) layer.kernel.push_back(w.size(d));
  layer.stride = ConstantInts(node->input(3), layer.kernel.size());
  layer.padding = ConstantInts(node->input(4), layer.kernel.size());
  layer.output_padding = ConstantInts(node->input(5), layer.kernel.size());
  layer.dilation = ConstantInts(node->input(7), layer.kernel.size());
  int out_space = NewSpace(layer.out_channels, layer.name);
  int in_space = -1;
  if (*groups == 1) {
    AddMember(out_space, {layer.name, weight->second, 1, 1, MemberRole::kProducer});
    if (layer.has_bias) AddMember(out_space, {layer.name, "bias", 0, 1, MemberRole::kProducer});
    if (in.space >= 0) {
      AddMember(in.space, {layer.name, weight->second, 0, 1, MemberRole::kConsumer});
      in_space = in.space;
    }
  } else {
    std::string reason = "grouped transposed conv " + layer.name + " at " + Where(node);
    FixFlow(in, reason);
    Fix(out_space, reason);
  }
  PushLayer(layer, Flow{in_space, 1, {}, false}, out_space);
  SetFlow(node->output(), Flow{out_space, 1, {}, false});
}

void GraphAnalyzer::OnLinear(Node* node) {
  auto weight = ResolveAttr(node->input(1));
  const auto* in_shape = ShapeOf(node->input(0));
  Flow in = FlowOf(node->input(0));
  // [N, C] (possibly flattened channels), or channel-last [N, ..., C] whose
  // last dim is either not pruned or a channel-last space.
  bool rank2 = in_shape && in_shape->size() == 2;
  bool channel_last_ok = in_shape && in_shape->size() > 2 && (!in.any() || in.channel_last);
  if (!weight || !in_shape || !(rank2 || channel_last_ok) || (rank2 && in.channel_last)) {
    OnUnknown(node);
    return;
  }
  torch::Tensor w = AttrTensor(weight->first, weight->second);
  Layer layer;
  layer.name = weight->first;
  layer.kind = LayerKind::kLinear;
  layer.out_channels = w.size(0);
  layer.in_block = in.space >= 0 ? in.block : 1;
  layer.in_channels = w.size(1) / layer.in_block;
  layer.has_bias = AttrIsTensor(weight->first, "bias");
  layer.in_shape = *in_shape;
  for (size_t d = 1; d + 1 < in_shape->size(); ++d) layer.out_spatial *= (*in_shape)[d];
  int out_space = NewSpace(layer.out_channels, layer.name);
  AddMember(out_space, {layer.name, weight->second, 0, 1, MemberRole::kProducer});
  if (layer.has_bias) AddMember(out_space, {layer.name, "bias", 0, 1, MemberRole::kProducer});
  if (in.any()) AddConsumer(in, layer.name, weight->second, 1, MemberRole::kConsumer);
  if (!in.parts.empty()) layer.in_channels = w.size(1);  // blocks are per part
  PushLayer(layer, in, out_space);
  SetFlow(node->output(), Flow{out_space, 1, {}, !rank2});
}

void GraphAnalyzer::OnBatchNorm(Node* node) {
  Flow in = FlowOf(node->input(0));
  auto weight = ResolveAttr(node->input(1));
  if (!weight) {
    FixFlow(in, "batch_norm without affine weight (" + Describe(node) + ")");
    return;
  }
  Layer layer;
  layer.name = weight->first;
  layer.kind = LayerKind::kBatchNorm;
  layer.out_channels = AttrTensor(weight->first, weight->second).size(0);
  layer.in_channels = layer.out_channels;
  auto momentum = torch::jit::toIValue(node->input(6));
  layer.bn_update_factor = momentum && momentum->isDouble() ? momentum->toDouble() : 1.0;
  bool flattened = in.block != 1 || in.channel_last;
  for (const Part& p : in.parts) flattened = flattened || p.block != 1;
  if (in.any()) {
    if (flattened) {
      FixFlow(in, "batch_norm on a flattened tensor (" + Describe(node) + ")");
      in = Flow{};
    } else {
      for (const char* name : {"weight", "bias", "running_mean", "running_var"}) {
        if (AttrIsTensor(layer.name, name)) AddConsumer(in, layer.name, name, 0, MemberRole::kNorm);
      }
    }
  }
  PushLayer(layer, in, in.space);
  layer_out_parts_.back() = in.parts;
  SetFlow(node->output(), in);
}

void GraphAnalyzer::OnPassThrough(Node* node) {
  Flow in = FlowOf(node->input(0));
  for (size_t i = 1; i < node->inputs().size(); ++i) {
    FixValue(node->input(i), "used as an argument of " + Describe(node));
  }
  for (Value* out : node->outputs()) {
    if (IsTensor(out)) SetFlow(out, in);
  }
}

void GraphAnalyzer::OnPool(Node* node) {
  Flow in = FlowOf(node->input(0));
  bool flattened = in.block != 1 || in.channel_last;
  for (const Part& p : in.parts) flattened = flattened || p.block != 1;
  if (in.any() && flattened) {
    FixFlow(in, "pooling a flattened / channel-last tensor (" + Describe(node) + ")");
    return;
  }
  OnPassThrough(node);
}

const std::vector<int64_t>* GraphAnalyzer::KnownShape(const Value* v) {
  if (const auto* shape = ShapeOf(v)) return shape;
  auto it = inferred_shapes_.find(v);
  if (it != inferred_shapes_.end()) return &it->second;
  auto inferred = InferShape(v, [this](const Value* x) { return ShapeOf(x); });
  if (!inferred) return nullptr;
  return &inferred_shapes_.emplace(v, std::move(*inferred)).first->second;
}

// An int list given as a constant, a list of constants, or read from a module
// attribute (torchvision's Permute keeps its dims in `self.dims`).
std::optional<std::vector<int64_t>> GraphAnalyzer::IntListArgument(Value* v) const {
  auto iv = torch::jit::toIValue(v);
  if (iv && iv->isIntList()) return iv->toIntVector();
  if (v->node()->kind() == c10::prim::ListConstruct) {
    std::vector<int64_t> list;
    for (Value* element : v->node()->inputs()) {
      auto i = ConstantInt(element);
      if (!i) return std::nullopt;
      list.push_back(*i);
    }
    return list;
  }
  if (auto attr = ResolveAttr(v)) {
    auto sub = SubmoduleAt(module_, attr->first);
    if (sub.hasattr(attr->second) && sub.attr(attr->second).isIntList()) {
      return sub.attr(attr->second).toIntVector();
    }
  }
  return std::nullopt;
}

// permute(x, dims): channels move between dim 1 and the last dim (ConvNeXt's
// channel-last blocks and LayerNorm2d); any other placement is not followed.
void GraphAnalyzer::OnPermute(Node* node) {
  Flow in = FlowOf(node->input(0));
  if (!in.any()) return;
  auto dims = IntListArgument(node->input(1));
  const auto* shape = ShapeOf(node->input(0));
  std::optional<bool> channel_last;
  if (dims && shape && dims->size() == shape->size() && in.parts.empty() && in.block == 1) {
    channel_last = ChannelLastAfterPermute(*dims, in.channel_last);
  }
  if (!channel_last) {
    std::string reason = "permutation that moves the channels elsewhere than dim 1 or the last dim";
    if (!dims) reason = "permutation whose dims are not constant";
    if (!in.parts.empty() || in.block != 1) {
      reason = "permutation of a concatenated / flattened tensor";
    }
    FixValue(node->input(0), reason + " (" + Describe(node) + ")");
    return;
  }
  in.channel_last = *channel_last && shape->size() > 2;
  SetFlow(node->output(), in);
}

// normalized_shape of layer_norm(input, normalized_shape, weight, bias, eps,
// cudnn_enable): constant ints, or (after this engine's surgery) sizes of the
// input's trailing dims.
std::optional<std::vector<int64_t>> GraphAnalyzer::LayerNormShape(Node* node) const {
  if (auto constant = IntListArgument(node->input(1))) return constant;
  Node* list = node->input(1)->node();
  const auto* shape = ShapeOf(node->input(0));
  if (list->kind() != c10::prim::ListConstruct || !shape) return std::nullopt;
  std::vector<int64_t> sizes;
  for (Value* element : list->inputs()) {
    Node* size = element->node();
    auto dim = size->kind() == c10::aten::size && size->inputs().size() == 2 &&
                       size->input(0) == node->input(0)
                   ? ConstantInt(size->input(1))
                   : std::nullopt;
    auto rank = static_cast<int64_t>(shape->size());
    if (!dim || *dim < -rank || *dim >= rank) return std::nullopt;
    sizes.push_back((*shape)[*dim < 0 ? *dim + rank : *dim]);
  }
  return sizes;
}

// x.size(d) that only builds the normalized_shape of layer_norm(x, ...): the
// form surgery gives a layer norm whose channels were pruned.
bool GraphAnalyzer::OnlyFeedsLayerNormShape(Value* size, const Value* tensor) const {
  if (size->uses().empty()) return false;
  for (const auto& use : size->uses()) {
    Node* list = use.user;
    if (list->kind() != c10::prim::ListConstruct || list->output()->uses().empty()) return false;
    for (const auto& norm_use : list->output()->uses()) {
      if (norm_use.user->kind() != c10::aten::layer_norm || norm_use.offset != 1 ||
          norm_use.user->input(0) != tensor) {
        return false;
      }
    }
  }
  return true;
}

// layer_norm over exactly the channel dim (channel-last, or [N, C]): its
// weight and bias are sliced with the channels. Normalising over dims that
// do not include the channels leaves them alone; over the channels and more
// couples channels with other dims: not pruned.
void GraphAnalyzer::OnLayerNorm(Node* node) {
  Flow in = FlowOf(node->input(0));
  const auto* shape = ShapeOf(node->input(0));
  auto normalized = LayerNormShape(node);
  auto weight = ResolveAttr(node->input(2));
  if (weight && !AttrIsTensor(weight->first, weight->second)) weight.reset();
  if (!shape || !normalized || normalized->empty() || normalized->size() > shape->size()) {
    OnUnknown(node);
    return;
  }
  const auto rank = static_cast<int64_t>(shape->size());
  const auto normalized_dims = static_cast<int64_t>(normalized->size());
  const int64_t channel_dim = in.channel_last ? rank - 1 : 1;
  bool flattened = in.block != 1;
  for (const Part& p : in.parts) flattened = flattened || p.block != 1;
  const bool over_channels_only = normalized_dims == 1 && channel_dim == rank - 1 && !flattened;
  if (in.any() && channel_dim < rank - normalized_dims) {
    SetFlow(node->output(), in);  // the channels are not normalised over
    return;
  }
  if (in.any() && !over_channels_only) {
    FixFlow(in, "layer_norm over more than the channel dim (" + Describe(node) + ")");
    return;
  }
  if (in.any() && !weight) {
    FixFlow(in, "layer_norm without affine weight (" + Describe(node) + ")");
    return;
  }
  if (weight && normalized_dims == 1) {
    Layer layer;
    layer.name = weight->first;
    layer.kind = LayerKind::kLayerNorm;
    layer.out_channels = AttrTensor(weight->first, weight->second).numel();
    layer.in_channels = layer.out_channels;
    layer.has_bias = AttrIsTensor(weight->first, "bias");
    layer.in_shape = *shape;
    for (int64_t d = 1; d + 1 < rank; ++d) layer.out_spatial *= (*shape)[d];
    if (in.any()) {
      AddConsumer(in, layer.name, weight->second, 0, MemberRole::kNorm);
      if (layer.has_bias) AddConsumer(in, layer.name, "bias", 0, MemberRole::kNorm);
    }
    PushLayer(layer, in, in.space);
    layer_out_parts_.back() = in.parts;
  }
  SetFlow(node->output(), in);
}

// A tensor attribute with one value per channel along `channel_dim` (size 1
// elsewhere), e.g. ConvNeXt's layer_scale [C, 1, 1]: sliced with the channels.
std::optional<SliceMember> GraphAnalyzer::PerChannelParameter(Value* operand, const Flow& result,
                                                              int64_t channel_dim) {
  auto attr = ResolveAttr(operand);
  const auto* shape = ShapeOf(operand);
  if (!attr || !shape || result.space < 0 || !result.parts.empty() || result.block != 1 ||
      !AttrIsTensor(attr->first, attr->second)) {
    return std::nullopt;
  }
  const int64_t channels = spaces_[Find(result.space)].channels;
  for (int64_t d = 0; d < static_cast<int64_t>(shape->size()); ++d) {
    if ((*shape)[d] != (d == channel_dim ? channels : 1)) return std::nullopt;
  }
  return SliceMember{attr->first, attr->second, channel_dim, 1, MemberRole::kNorm, 0};
}

// x.mean(dims, keepdim, dtype) over spatial dims keeps the channels on dim 1.
void GraphAnalyzer::OnMean(Node* node) {
  Flow in = FlowOf(node->input(0));
  if (!in.any()) return;
  const auto* shape = ShapeOf(node->input(0));
  bool ok = shape && node->inputs().size() >= 3 && !in.channel_last && in.block == 1;
  if (ok) {
    auto dims = torch::jit::toIValue(node->input(1));
    ok = dims && dims->isIntList();
    if (ok) {
      int64_t rank = static_cast<int64_t>(shape->size());
      for (int64_t d : dims->toIntVector()) {
        if (d < 0) d += rank;
        if (d <= 1) ok = false;
      }
    }
  }
  if (!ok) {
    OnUnknown(node);
    return;
  }
  SetFlow(node->output(), in);
}

void GraphAnalyzer::OnListConstruct(Node* node) {
  auto type = node->output()->type()->cast<c10::ListType>();
  if (!type || type->getElementType()->kind() != c10::TypeKind::TensorType) return;
  lists_[node->output()] = std::vector<Value*>(node->inputs().begin(), node->inputs().end());
}

void GraphAnalyzer::OnAppend(Node* node) {
  auto it = lists_.find(node->input(0));
  if (it == lists_.end() || node->owningBlock() != graph_->block()) {
    OnUnknown(node);
    return;
  }
  it->second.push_back(node->input(1));
}

// cat(tensors, 1): the result is the sequence of its inputs' channel runs.
void GraphAnalyzer::OnCat(Node* node) {
  auto it = lists_.find(node->input(0));
  auto dim = ConstantInt(node->input(1));
  const auto* out_shape = ShapeOf(node->output());
  if (it == lists_.end() || !dim || !out_shape) {
    OnUnknown(node);
    return;
  }
  int64_t rank = static_cast<int64_t>(out_shape->size());
  bool channels = *dim == 1 || *dim == 1 - rank;
  Flow out;
  bool ok = channels;
  for (Value* element : it->second) {
    Flow f = FlowOf(element);
    if (f.channel_last || f.block != 1) ok = false;
    auto parts = PartsOf(element);
    if (parts.empty()) ok = false;
    for (const Part& p : parts) {
      if (p.block != 1) ok = false;
      if (p.space >= 0 && !out.parts.empty() && out.parts.back().space >= 0 &&
          Find(out.parts.back().space) == Find(p.space)) {
        // The same channels twice in one tensor: keep it simple, do not prune.
        Fix(p.space, "concatenated with itself at " + Describe(node));
      }
      out.parts.push_back(p);
    }
  }
  if (!ok) {
    OnUnknown(node);
    return;
  }
  bool any_space = false;
  for (const Part& p : out.parts) any_space = any_space || p.space >= 0;
  if (any_space) SetFlow(node->output(), out);
}

// "3 units of 32 channels" for a space whose channels are tied in units by
// earlier chunks / shuffles / grouped convs.
std::string GraphAnalyzer::LayoutOf(int space) {
  const int root = Canon(space);
  const Space& s = spaces_[root];
  if (!s.is_view()) return std::to_string(s.channels) + " independent channels";
  const int64_t units = spaces_[s.inner].channels;
  return std::to_string(units) + " independent units of " + std::to_string(s.channels / units) +
         " channels (tied by earlier chunks / channel shuffles / grouped convs)";
}

// view / reshape: only a whole channel shuffle is followed. With g groups,
// output channel j * g + i is input channel i * C/g + j. The pruned model
// runs the same code on fewer channels, which stays a sub-network only if
// every input run i keeps the same positions j: the input is g runs of one
// space P, and the output is P with each channel a unit of g consecutive
// channels. A concatenation of g equal parts (ShuffleNet's cat(x1, branch))
// therefore ties its parts together.
void GraphAnalyzer::OnView(Node* node) {
  Flow in = FlowOf(node->input(0));
  if (!in.any()) return;  // nothing pruned flows through
  auto shuffle = MatchChannelShuffle(node, [this](const Value* v) { return ShapeOf(v); });
  bool plain = in.block == 1 && !in.channel_last;
  for (const Part& p : in.parts) plain = plain && p.block == 1;
  if (!shuffle || !plain) {
    OnUnknown(node);
    return;
  }
  for (Node* n : shuffle->nodes) handled_.insert(n);
  const std::string at =
      "channel shuffle (groups=" + std::to_string(shuffle->groups) + ") at " + Where(node);
  const int64_t channels = (*ShapeOf(node->input(0)))[1];
  int run = -1;
  if (!in.parts.empty()) {
    bool aligned = static_cast<int64_t>(in.parts.size()) == shuffle->groups;
    for (const Part& p : in.parts) aligned = aligned && p.channels * shuffle->groups == channels;
    bool unpruned = false;
    for (const Part& p : in.parts) unpruned = unpruned || p.space < 0;
    if (!aligned || unpruned) {
      FixFlow(in, at + (aligned ? " mixes them with channels that are not pruned"
                                : " mixes concatenated parts that are not its groups"));
      return;
    }
    run = in.parts[0].space;
    for (const Part& p : in.parts) run = Union(run, p.space, node);
    if (spaces_[Canon(run)].channels * shuffle->groups != channels) {
      FixFlow(in, at + ": parts differ in size");
      return;
    }
  } else {
    run = SplitRuns(in.space, shuffle->groups);
    if (run < 0) {
      Fix(in.space, at + ": its groups must keep the same positions, but the channels are " +
                        LayoutOf(in.space));
      return;
    }
  }
  SetFlow(shuffle->output, Flow{NewView(run, 1, shuffle->groups), 1, {}, false});
}

// chunk(x, k, 1) / split(x, C / k, 1) unpacked into k tensors. Pieces that
// are whole parts of a concatenation are those parts. Otherwise the pruned
// model would cut its fewer channels into k equal pieces again, so every
// piece must keep the same count: the pieces are tied position by position
// (each is one space P, the input k runs of it).
void GraphAnalyzer::OnChunk(Node* node) {
  Flow in = FlowOf(node->input(0));
  if (!in.any()) return;
  const auto* shape = ShapeOf(node->input(0));
  auto count = ConstantInt(node->input(1));
  auto dim = ConstantInt(node->input(2));
  Node* unpack = node->output()->uses().size() == 1 ? node->output()->uses()[0].user : nullptr;
  const auto rank = shape ? static_cast<int64_t>(shape->size()) : 0;
  bool ok = shape && count && dim && unpack && unpack->kind() == c10::prim::ListUnpack &&
            (*dim == 1 || *dim == 1 - rank) && in.block == 1 && !in.channel_last && rank >= 2 &&
            *count > 0;
  int64_t pieces = 0;
  const int64_t channels = ok ? (*shape)[1] : 0;
  if (ok && node->kind() == c10::aten::chunk) pieces = *count;
  if (ok && node->kind() != c10::aten::chunk && channels % *count == 0) pieces = channels / *count;
  ok = ok && pieces > 0 && channels % pieces == 0 &&
       static_cast<int64_t>(unpack->outputs().size()) == pieces;
  for (const Part& p : in.parts) ok = ok && p.block == 1;
  if (!ok) {
    OnUnknown(node);
    return;
  }
  handled_.insert(unpack);
  const int64_t size = channels / pieces;
  const std::string at = Describe(node) + " into " + std::to_string(pieces) + " pieces";
  if (!in.parts.empty()) {
    // Pieces made of whole parts keep them; a part cut by a piece boundary
    // is not followed.
    std::vector<Flow> outs(pieces);
    int64_t offset = 0;
    bool aligned = true;
    for (const Part& p : in.parts) {
      const int64_t piece = offset / size;
      if (piece >= pieces || (offset + p.channels - 1) / size != piece) aligned = false;
      if (aligned) outs[piece].parts.push_back(p);
      offset += p.channels;
    }
    if (!aligned) {
      FixFlow(in, at + " cuts through concatenated parts");
      return;
    }
    for (int64_t k = 0; k < pieces; ++k) {
      Flow& f = outs[k];
      if (f.parts.size() == 1) f = Flow{f.parts[0].space, 1, {}, false};
      bool any = false;
      for (const Part& p : f.parts) any = any || p.space >= 0;
      if (f.space >= 0 || any) SetFlow(unpack->output(k), f);
    }
    return;
  }
  const int run = SplitRuns(in.space, pieces);
  if (run < 0) {
    Fix(in.space, at + ": the pieces must keep the same positions, but the channels are " +
                      LayoutOf(in.space));
    return;
  }
  for (int64_t k = 0; k < pieces; ++k) SetFlow(unpack->output(k), Flow{run, 1, {}, false});
}

// Binary element-wise ops: tensors with channels are coupled (residual add,
// squeeze-excite gate); others must broadcast along the channel dim.
void GraphAnalyzer::OnElementwise(Node* node) {
  const auto* out_shape = KnownShape(node->output());
  Flow result;
  bool have = false;
  bool ok = true;
  std::vector<Flow> seen;
  for (size_t i = 0; i < std::min<size_t>(2, node->inputs().size()); ++i) {
    Value* in = node->input(i);
    if (!IsTensor(in)) continue;
    Flow f = FlowOf(in);
    if (f.any()) {
      seen.push_back(f);
      if (!have) {
        result = f;
        have = true;
      } else if (!f.parts.empty() || !result.parts.empty()) {
        // Two concatenations: couple them run by run when they line up.
        if (f.parts.size() != result.parts.size() || f.channel_last != result.channel_last) {
          ok = false;
          continue;
        }
        for (size_t k = 0; k < f.parts.size(); ++k) {
          Part& a = result.parts[k];
          const Part& b = f.parts[k];
          if (a.channels != b.channels || a.block != b.block || (a.space < 0) != (b.space < 0)) {
            ok = false;
          } else if (a.space >= 0) {
            a.space = Union(a.space, b.space, node);
          }
        }
      } else {
        if (f.block != result.block || f.channel_last != result.channel_last) ok = false;
        result.space = Union(result.space, f.space, node);
      }
      continue;
    }
    const auto* shape = KnownShape(in);
    if (!shape || !out_shape) {
      ok = false;
      continue;
    }
    seen.push_back(f);
  }
  if (!have) return;
  // Operands without channels must broadcast along the channel dim (dim 1,
  // or the last dim for channel-last tensors), right-aligned, or be a
  // per-channel parameter (layer scale), which is then sliced with them.
  std::vector<SliceMember> per_channel;
  for (size_t i = 0; i < std::min<size_t>(2, node->inputs().size()); ++i) {
    Value* in = node->input(i);
    if (!IsTensor(in) || FlowOf(in).any()) continue;
    const auto* shape = KnownShape(in);
    if (!shape || !out_shape) continue;
    int64_t out_rank = static_cast<int64_t>(out_shape->size());
    int64_t channel_dim = result.channel_last ? out_rank - 1 : 1;
    int64_t offset = out_rank - static_cast<int64_t>(shape->size());
    int64_t facing = channel_dim - offset;
    if (facing >= 0 && facing < static_cast<int64_t>(shape->size()) && (*shape)[facing] != 1) {
      auto member = PerChannelParameter(in, result, facing);
      if (member) {
        per_channel.push_back(*member);
      } else {
        ok = false;
      }
    }
  }
  if (!ok) {
    for (const Flow& f : seen) {
      FixFlow(f, "element-wise op with a non-broadcast operand " + Describe(node));
    }
    return;
  }
  for (const SliceMember& m : per_channel) AddMember(result.space, m);
  SetFlow(node->output(), result);
}

void GraphAnalyzer::OnFlatten(Node* node) {
  Flow in = FlowOf(node->input(0));
  if (!in.any()) return;
  const auto* shape = ShapeOf(node->input(0));
  auto start = ConstantInt(node->input(1));
  auto end = ConstantInt(node->input(2));
  if (!shape || !start || !end || *start != 1 || in.channel_last ||
      !(*end == -1 || *end == static_cast<int64_t>(shape->size()) - 1)) {
    FixFlow(in, "flatten other than flatten(x, 1) (" + Describe(node) + ")");
    return;
  }
  int64_t spatial = 1;
  for (size_t d = 2; d < shape->size(); ++d) spatial *= (*shape)[d];
  in.block *= spatial;
  for (Part& p : in.parts) p.block *= spatial;
  SetFlow(node->output(), in);
}

// x.size() as a list only feeds shape checks (BatchNorm); x.size(1) may end up
// baked into a reshape, so it pins the channels.
void GraphAnalyzer::OnSize(Node* node) {
  Flow in = FlowOf(node->input(0));
  if (!in.any() || node->inputs().size() == 1) return;
  auto dim = ConstantInt(node->input(1));
  const auto* shape = ShapeOf(node->input(0));
  int64_t rank = shape ? static_cast<int64_t>(shape->size()) : -1;
  if (OnlyFeedsConvGroups(node->output())) return;
  if (OnlyFeedsLayerNormShape(node->output(), node->input(0))) return;
  if (!dim || *dim == 1 || (rank > 0 && *dim == 1 - rank) || in.channel_last) {
    FixFlow(in, "channel count read by " + Describe(node));
  }
}

void GraphAnalyzer::OnIf(Node* node) {
  for (Block* b : node->blocks()) VisitBlock(b);
  for (size_t i = 0; i < node->outputs().size(); ++i) {
    int space = -1;
    int64_t block = 1;
    bool consistent = true;
    bool channel_last = false;
    std::vector<Flow> seen;
    for (Block* b : node->blocks()) {
      Flow f = FlowOf(b->outputs().at(i));
      if (!f.parts.empty()) {
        seen.push_back(f);
        consistent = false;
        continue;
      }
      if (f.space < 0) {
        consistent = false;
        continue;
      }
      seen.push_back(f);
      if (space < 0) {
        space = f.space;
        block = f.block;
        channel_last = f.channel_last;
      } else {
        if (f.block != block || f.channel_last != channel_last) consistent = false;
        space = Union(space, f.space, node);
      }
    }
    if (seen.empty()) continue;
    if (!consistent) {
      for (const Flow& f : seen)
        FixFlow(f, "branches disagree about channels at " + Describe(node));
      continue;
    }
    SetFlow(node->output(i), Flow{space, block, {}, channel_last});
  }
}

void GraphAnalyzer::MarkOutput(Value* v, const std::string& reason) {
  FixValue(v, reason);
  auto kind = v->node()->kind();
  if (kind == c10::prim::TupleConstruct || kind == c10::prim::ListConstruct) {
    for (Value* in : v->node()->inputs()) MarkOutput(in, reason);
  }
}

ModelAnalysis GraphAnalyzer::Run() {
  // A tuple that only packs the outputs is reported as "model output" below,
  // not as an unknown op.
  for (Node* node : graph_->nodes()) {
    auto kind = node->kind();
    bool packs_output = (kind == c10::prim::TupleConstruct || kind == c10::prim::ListConstruct) &&
                        node->output()->uses().size() == 1 &&
                        node->output()->uses()[0].user == graph_->return_node();
    if (!packs_output) VisitNode(node);
  }
  for (Value* out : graph_->outputs()) MarkOutput(out, "model output");

  ModelAnalysis result;
  std::map<int, int> group_of_root;
  for (int s = 0; s < static_cast<int>(spaces_.size()); ++s) {
    if (Find(s) != s || spaces_[s].members.empty()) continue;
    const Space& space = spaces_[s];
    PruningGroup g;
    g.id = static_cast<int>(result.groups.size());
    g.channels = space.channels;
    g.members = space.members;
    g.producers = space.producers;
    g.prunable = !space.fixed;
    for (const auto& r : space.reasons) g.reason += (g.reason.empty() ? "" : "; ") + r;
    group_of_root[s] = g.id;
    result.groups.push_back(std::move(g));
  }
  auto group_id = [&](int space) {
    if (space < 0) return -1;
    auto it = group_of_root.find(Find(space));
    return it == group_of_root.end() ? -1 : it->second;
  };
  auto parts = [&](const std::vector<Part>& in) {
    std::vector<ChannelPart> out;
    for (const Part& p : in) out.push_back(ChannelPart{group_id(p.space), p.channels, p.block});
    return out;
  };
  // A tiled space (a grouped conv's channels) reads as its runs: a
  // concatenation of the same per-tile group, one part per conv group.
  auto tiled = [&](int space) { return space >= 0 && spaces_[Canon(space)].is_view(); };
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer layer = layers_[i];
    int in_space = layer_in_space_[i];
    int out_space = layer_out_space_[i];
    std::vector<Part> in_parts = layer_in_parts_[i];
    std::vector<Part> out_parts = layer_out_parts_[i];
    if (tiled(in_space)) {
      in_parts = {Part{in_space, spaces_[Find(in_space)].channels, layer.in_block}};
      in_space = -1;
    }
    if (tiled(out_space)) {
      out_parts = {Part{out_space, spaces_[Find(out_space)].channels, 1}};
      out_space = -1;
    }
    layer.in_group = group_id(in_space);
    layer.out_group = group_id(out_space);
    layer.in_parts = parts(ExpandTiles(in_parts));
    layer.out_parts = parts(ExpandTiles(out_parts));
    if (layer.kind == LayerKind::kBatchNorm) {
      layer.affine = AttrIsTensor(layer.name, "weight");
    }
    result.layers.push_back(layer);
  }
  result.depthwise_convs = depthwise_convs_;
  return result;
}

// Runs `graph` once with every top-level tensor value appended to its output
// and records their shapes.
std::unordered_map<const Value*, std::vector<int64_t>> RecordShapes(
    const torch::jit::Module& module, const std::shared_ptr<Graph>& graph,
    const std::vector<int64_t>& input_shape) {
  std::vector<Value*> values;
  for (Value* in : graph->inputs()) {
    if (IsTensor(in)) values.push_back(in);
  }
  for (Node* node : graph->nodes()) {
    for (Value* out : node->outputs()) {
      if (IsTensor(out)) values.push_back(out);
    }
  }
  auto probe = graph->copy();
  {
    // Same node order in the copy: collect the same values from it.
    std::vector<Value*> probe_values;
    for (Value* in : probe->inputs()) {
      if (IsTensor(in)) probe_values.push_back(in);
    }
    for (Node* node : probe->nodes()) {
      for (Value* out : node->outputs()) {
        if (IsTensor(out)) probe_values.push_back(out);
      }
    }
    torch::jit::WithInsertPoint guard(probe->return_node());
    std::vector<Value*> packed{probe->outputs().at(0)};
    packed.insert(packed.end(), probe_values.begin(), probe_values.end());
    Value* tuple = probe->insertNode(probe->createTuple(packed))->output();
    probe->eraseOutput(0);
    probe->registerOutput(tuple);
  }
  torch::jit::GraphFunction fn("prune_shape_probe", probe, nullptr);
  torch::NoGradGuard no_grad;
  std::vector<c10::IValue> stack{module._ivalue(), torch::zeros(input_shape)};
  fn.run(stack);
  auto elements = stack.at(0).toTuple()->elements();
  std::unordered_map<const Value*, std::vector<int64_t>> shapes;
  for (size_t i = 0; i < values.size(); ++i) {
    const auto& iv = elements.at(i + 1);
    if (iv.isTensor()) shapes[values[i]] = iv.toTensor().sizes().vec();
  }
  return shapes;
}

// Non-tensor attributes other than `training` (e.g. DenseNet's
// `memory_efficient`, GoogLeNet's `transform_input`) become constants so that
// branches on them fold away; tensors and `training` stay attribute reads.
void FoldAttributeConstants(const torch::jit::Module& module, std::shared_ptr<Graph>& graph) {
  std::vector<Node*> reads;
  std::function<void(Block*)> collect = [&](Block* block) {
    for (Node* node : block->nodes()) {
      if (node->kind() == c10::prim::GetAttr) reads.push_back(node);
      for (Block* b : node->blocks()) collect(b);
    }
  };
  collect(graph->block());
  for (Node* node : reads) {
    std::vector<std::string> names;
    Value* v = node->output();
    while (v->node()->kind() == c10::prim::GetAttr) {
      names.push_back(v->node()->s(c10::attr::name));
      v = v->node()->input(0);
    }
    if (v != graph->inputs().at(0) || names.front() == "training") continue;
    c10::IValue current = module._ivalue();
    bool ok = true;
    for (auto it = names.rbegin(); it != names.rend() && ok; ++it) {
      if (!current.isObject() || !current.toObjectRef().type()->hasAttribute(*it)) {
        ok = false;
        break;
      }
      current = current.toObjectRef().getAttr(*it);
    }
    if (!ok) continue;
    if (!(current.isBool() || current.isInt() || current.isDouble() || current.isNone() ||
          current.isString())) {
      continue;
    }
    torch::jit::WithInsertPoint guard(node);
    Value* constant = graph->insertConstant(current);
    node->output()->replaceAllUsesWith(constant);
  }
  torch::jit::ConstantPropagation(graph);
  torch::jit::EliminateDeadCode(graph);
}

}  // namespace

torch::jit::Module SubmoduleAt(const torch::jit::Module& module, const std::string& path) {
  torch::jit::Module current = module;
  std::stringstream parts(path);
  std::string part;
  while (std::getline(parts, part, '.')) {
    if (!part.empty()) current = current.attr(part).toModule();
  }
  return current;
}

const char* LayerKindName(LayerKind kind) {
  switch (kind) {
    case LayerKind::kConv:
      return "conv";
    case LayerKind::kLinear:
      return "linear";
    case LayerKind::kBatchNorm:
      return "batch_norm";
    case LayerKind::kLayerNorm:
      return "layer_norm";
  }
  return "?";
}

std::shared_ptr<Graph> InlinedForwardGraph(const torch::jit::Module& module) {
  auto graph = module.get_method("forward").graph()->copy();
  torch::jit::Inline(*graph);
  FoldAttributeConstants(module, graph);
  return graph;
}

ModelAnalysis AnalyzeModel(torch::jit::Module module, const std::vector<int64_t>& input_shape) {
  if (!module.find_method("forward")) {
    throw EngineError("INVALID_ARGUMENT", "model has no forward method");
  }
  auto graph = InlinedForwardGraph(module);
  if (graph->inputs().size() != 2) {
    throw EngineError("INVALID_ARGUMENT", "forward must take exactly one tensor input, takes " +
                                              std::to_string(graph->inputs().size() - 1));
  }

  bool was_training = module.is_training();
  module.eval();
  std::unordered_map<const Value*, std::vector<int64_t>> shapes;
  try {
    shapes = RecordShapes(module, graph, input_shape);
  } catch (const std::exception& e) {
    if (was_training) module.train();
    throw EngineError("INVALID_ARGUMENT",
                      std::string("forward failed on an input of the given shape: ") + e.what());
  }
  if (was_training) module.train();

  GraphAnalyzer analyzer(module, graph, std::move(shapes));
  ModelAnalysis result = analyzer.Run();
  result.input_shape = input_shape;
  for (const auto& p : module.parameters()) result.total_params += p.numel();
  return result;
}

}  // namespace prune::engine
