#include "batch_norm_calibration.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/jit.h>

#include <map>
#include <optional>
#include <set>

#include "evaluate.h"

namespace prune::engine {
namespace {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

// What replaces aten::batch_norm(input, weight, bias, running_mean,
// running_var, training, momentum, eps, cudnn_enabled) of a recalibrated norm:
// normalise with the batch's own statistics, exactly as train mode does, and
// add the batch mean and unbiased variance to the running buffers (zeroed
// before the first batch, divided by the batch count after the last).
// E[x^2] - E[x]^2 over contiguous reductions is 1.7x as fast as the CPU
// kernel's scalar statistics; in float32 its relative error on the variance
// was ~6e-6 on conv outputs with mean 3x their spread.
constexpr const char* kStatisticsSource = R"JIT(
def calibrating_batch_norm(input: Tensor, weight: Optional[Tensor], bias: Optional[Tensor],
                           running_mean: Tensor, running_var: Tensor, eps: float) -> Tensor:
    x = input.reshape([input.size(0), input.size(1), -1])
    mean = x.mean([0, 2])
    var = ((x * x).mean([0, 2]) - mean * mean).clamp(0.0)
    count = x.size(0) * x.size(2)
    running_mean.add_(mean)
    running_var.add_(var * (count / max(count - 1, 1)))
    return torch.batch_norm(input, weight, bias, mean, var, False, 0.0, eps, False)
)JIT";

// Dotted module path of the module a prim::GetAttr chain from the graph's
// `self` input reads, or nullopt when `v` is not such a chain.
std::optional<std::string> ModulePath(const Graph& graph, Value* v) {
  std::vector<std::string> names;
  while (v->node()->kind() == c10::prim::GetAttr) {
    names.push_back(v->node()->s(c10::attr::name));
    v = v->node()->input(0);
  }
  if (v != graph.inputs().at(0)) return std::nullopt;
  std::string path;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    path += (path.empty() ? "" : ".") + *it;
  }
  return path;
}

void CollectBatchNorms(torch::jit::Block* block, std::vector<Node*>* out) {
  for (Node* node : block->nodes()) {
    if (node->kind() == c10::Symbol::fromQualString("aten::batch_norm")) out->push_back(node);
    for (torch::jit::Block* b : node->blocks()) CollectBatchNorms(b, out);
  }
}

// The forward graph with every norm in `paths` computing and accumulating its
// batch statistics; nullptr unless each of them is rewritten exactly once.
std::shared_ptr<Graph> CalibrationGraph(const torch::jit::Module& module,
                                        const std::set<std::string>& paths) {
  static const auto statistics = torch::jit::compile(kStatisticsSource);
  std::shared_ptr<Graph> stats_graph =
      torch::jit::toGraphFunction(statistics->get_function("calibrating_batch_norm")).graph();
  std::shared_ptr<Graph> graph = InlinedForwardGraph(module);
  std::vector<Node*> norms;
  CollectBatchNorms(graph->block(), &norms);
  std::map<std::string, int> rewritten;
  for (Node* node : norms) {
    Value* weight = node->input(1);
    if (weight->node()->kind() != c10::prim::GetAttr) continue;
    Value* norm_module = weight->node()->input(0);
    std::optional<std::string> path = ModulePath(*graph, norm_module);
    if (!path || !paths.count(*path)) continue;
    torch::jit::WithInsertPoint guard(node);
    Value* running_mean = graph->insertGetAttr(norm_module, "running_mean");
    Value* running_var = graph->insertGetAttr(norm_module, "running_var");
    std::vector<Value*> out = torch::jit::insertGraph(
        *graph, *stats_graph,
        {node->input(0), weight, node->input(2), running_mean, running_var, node->input(7)});
    node->output()->replaceAllUsesWith(out.at(0));
    node->destroy();
    ++rewritten[*path];
  }
  for (const auto& path : paths) {
    if (rewritten[path] != 1) return nullptr;
  }
  return graph;
}

}  // namespace

BatchNormCalibrator::BatchNormCalibrator(const torch::jit::Module& module,
                                         const ModelAnalysis& analysis, bool rewrite)
    : module_(module) {
  std::map<std::string, int> calls;
  std::map<std::string, double> factor;
  for (const auto& layer : analysis.layers) {
    if (layer.kind != LayerKind::kBatchNorm) continue;
    ++calls[layer.name];
    factor[layer.name] = layer.bn_update_factor;
  }
  std::set<std::string> paths;
  for (const auto& [name, count] : calls) {
    torch::jit::Module bn = SubmoduleAt(module_, name);
    if (count != 1 || !bn.attr("running_mean").isTensor() || !bn.attr("running_var").isTensor() ||
        factor[name] <= 0) {
      continue;
    }
    norms_.push_back({name, factor[name]});
    paths.insert(name);
  }
  if (paths.empty() || !rewrite) return;
  if (std::shared_ptr<Graph> graph = CalibrationGraph(module_, paths)) {
    function_ =
        std::make_unique<torch::jit::GraphFunction>("prune_batch_norm_calibration", graph, nullptr);
  }
}

BatchNormCalibrator::~BatchNormCalibrator() = default;

void BatchNormCalibrator::Run(const Dataset& data, int64_t batch_size, int64_t max_batches,
                              const torch::Device& device, const CancelToken& cancel) {
  torch::NoGradGuard no_grad;
  if (function_) {
    RunRewritten(data, batch_size, max_batches, device, cancel);
  } else {
    RunTrainMode(data, batch_size, max_batches, device, cancel);
  }
  module_.eval();
}

namespace {

void ZeroStatistics(torch::jit::Module& bn) {
  bn.attr("running_mean").toTensor().zero_();
  bn.attr("running_var").toTensor().zero_();
  if (bn.hasattr("num_batches_tracked") && bn.attr("num_batches_tracked").isTensor()) {
    bn.attr("num_batches_tracked").toTensor().zero_();
  }
}

}  // namespace

void BatchNormCalibrator::RunRewritten(const Dataset& data, int64_t batch_size, int64_t max_batches,
                                       const torch::Device& device, const CancelToken& cancel) {
  const int64_t n = data.inputs.size(0);
  std::vector<torch::jit::Module> bns;
  for (const Norm& norm : norms_) bns.push_back(SubmoduleAt(module_, norm.path));
  int64_t batches = 0;
  // Batches of at least two samples (as train mode needs), as many as allowed.
  for (int64_t start = 0; start + 1 < n && batches < max_batches; start += batch_size) {
    ThrowIfCancelled(cancel);
    if (batches == 0) {
      for (auto& bn : bns) ZeroStatistics(bn);
      // Other train-mode behaviour (dropout, norms left alone) as before.
      module_.train();
    }
    int64_t end = std::min(n, start + batch_size);
    std::vector<c10::IValue> stack{module_._ivalue(), data.inputs.slice(0, start, end).to(device)};
    function_->run(stack);
    ++batches;
  }
  if (batches == 0) return;
  for (auto& bn : bns) {
    bn.attr("running_mean").toTensor().div_(static_cast<double>(batches));
    bn.attr("running_var").toTensor().div_(static_cast<double>(batches));
  }
}

void BatchNormCalibrator::RunTrainMode(const Dataset& data, int64_t batch_size, int64_t max_batches,
                                       const torch::Device& device, const CancelToken& cancel) {
  struct Stats {
    torch::jit::Module module;
    double factor;
    torch::Tensor mean_sum, var_sum;
  };
  std::vector<Stats> stats;
  for (const Norm& norm : norms_) stats.push_back({SubmoduleAt(module_, norm.path), norm.factor});
  const int64_t n = data.inputs.size(0);
  int64_t batches = 0;
  module_.train();
  for (int64_t start = 0; start + 1 < n && batches < max_batches; start += batch_size) {
    ThrowIfCancelled(cancel);
    // Zero statistics: after one update running = factor * batch statistic.
    for (auto& s : stats) ZeroStatistics(s.module);
    int64_t end = std::min(n, start + batch_size);
    module_.forward({data.inputs.slice(0, start, end).to(device)});
    for (auto& s : stats) {
      torch::Tensor mean = s.module.attr("running_mean").toTensor() / s.factor;
      torch::Tensor var = s.module.attr("running_var").toTensor() / s.factor;
      s.mean_sum = s.mean_sum.defined() ? s.mean_sum + mean : mean;
      s.var_sum = s.var_sum.defined() ? s.var_sum + var : var;
    }
    ++batches;
  }
  if (batches == 0) return;
  for (auto& s : stats) {
    s.module.attr("running_mean").toTensor().copy_(s.mean_sum / static_cast<double>(batches));
    s.module.attr("running_var").toTensor().copy_(s.var_sum / static_cast<double>(batches));
  }
}

}  // namespace prune::engine
