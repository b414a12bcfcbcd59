#include "search/pruning_net.h"

#include <torch/csrc/jit/runtime/graph_executor.h>

#include <algorithm>
#include <cmath>

#include "evaluate.h"

namespace prune::engine::search {

PruningNet::PruningNet(const torch::jit::Module& original, const ModelAnalysis& analysis,
                       PruningNetOptions options, uint64_t seed)
    : analysis_(analysis), options_(options), rng_(seed ^ 0x5851f42d4c957f2dULL) {
  torch::NoGradGuard no_grad;
  for (const Layer& layer : analysis.layers) {
    if (IsNormLayer(layer.kind) || layer.depthwise || layer.transposed) continue;
    bool in_pruned = layer.in_group >= 0 && analysis.groups[layer.in_group].prunable;
    bool out_pruned = layer.out_group >= 0 && analysis.groups[layer.out_group].prunable;
    if ((!in_pruned && !out_pruned) || generators_.count(layer.name)) continue;
    Generator g;
    g.in_group = in_pruned ? layer.in_group : -1;
    g.out_group = out_pruned ? layer.out_group : -1;
    g.in_channels = layer.in_channels;
    g.out_channels = layer.out_channels;
    g.original = SubmoduleAt(original, layer.name)
                     .attr("weight")
                     .toTensor()
                     .detach()
                     .to(torch::kCPU)
                     .clone();
    const int64_t numel = g.original.numel();
    g.mlp = torch::nn::Sequential(torch::nn::Linear(2, options_.hidden), torch::nn::ReLU(),
                                  torch::nn::Linear(options_.hidden, numel));
    // Initialisation from the own RNG; last layer zero (= weight inheritance).
    auto params = g.mlp->parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      torch::Tensor p = params[i];
      if (i >= 2) {
        p.zero_();
        continue;
      }
      std::vector<float> v(static_cast<size_t>(p.numel()));
      double bound = 1.0 / std::sqrt(2.0);
      for (auto& x : v) x = static_cast<float>((2.0 * Uniform01(rng_) - 1.0) * bound);
      p.copy_(torch::tensor(v).reshape(p.sizes()));
    }
    for (auto& p : params) parameters_.push_back(p);
    generators_.emplace(layer.name, std::move(g));
  }
}

torch::Tensor PruningNet::Generate(const std::string& path, const std::string& tensor_name,
                                   const KeepCounts& keep) {
  if (tensor_name != "weight") return {};
  auto it = generators_.find(path);
  if (it == generators_.end()) return {};
  Generator& g = it->second;
  const float out = g.out_group >= 0
                        ? static_cast<float>(keep[g.out_group]) / static_cast<float>(g.out_channels)
                        : 1.0f;
  const float in = g.in_group >= 0
                       ? static_cast<float>(keep[g.in_group]) / static_cast<float>(g.in_channels)
                       : 1.0f;
  torch::Tensor encoding = torch::tensor({out, in}).unsqueeze(0);
  torch::Tensor delta = g.mlp->forward(encoding).reshape(g.original.sizes());
  return g.original * (1.0 + delta);
}

void PruningNet::ApplyTo(torch::jit::Module& module, const KeepCounts& keep) {
  torch::NoGradGuard no_grad;
  for (const auto& [path, g] : generators_) {
    torch::jit::Module owner = SubmoduleAt(module, path);
    bool requires_grad = owner.attr("weight").toTensor().requires_grad();
    torch::Tensor old = owner.attr("weight").toTensor();
    torch::Tensor w = Generate(path, "weight", keep).detach().to(old.device()).clone();
    w.set_requires_grad(requires_grad);
    owner.setattr("weight", w);
  }
}

double PruningNet::MetaTrain(InheritedWeightScorer& scorer, const std::vector<Unit>& units,
                             const Dataset& train, int64_t batch_size, const CancelToken& cancel) {
  if (generators_.empty() || options_.steps <= 0) return 0.0;
  torch::jit::GraphOptimizerEnabledGuard optimizer_off(false);
  torch::AutoGradMode grad(true);
  torch::optim::Adam adam(parameters_, torch::optim::AdamOptions(options_.lr));
  const int64_t n = train.inputs.size(0);
  const int64_t batches = std::max<int64_t>(1, n / batch_size);
  double tail_loss = 0.0;
  int tail = 0;
  KeepCounts keep = FullKeepCounts(analysis_);
  for (int step = 0; step < options_.steps; ++step) {
    ThrowIfCancelled(cancel);
    for (const Unit& u : units) {  // stochastic widths, one draw per batch
      int64_t level = UniformInt(rng_, 1, options_.levels);
      keep[u.group] = std::clamp<int64_t>(
          std::llround(static_cast<double>(level * u.channels) / options_.levels), 1, u.channels);
    }
    int64_t start = (step % batches) * batch_size;
    int64_t end = std::min(n, start + batch_size);
    torch::Tensor x = train.inputs.slice(0, start, end).to(scorer.device());
    torch::Tensor y = train.targets.slice(0, start, end).to(scorer.device());
    torch::jit::Module& module = scorer.Materialize(keep, /*with_grad=*/true);
    module.train();
    torch::Tensor loss = torch::nn::functional::cross_entropy(module.forward({x}).toTensor(), y);
    adam.zero_grad();
    loss.backward();
    adam.step();
    if (step >= options_.steps - std::max(1, options_.steps / 10)) {
      tail_loss += loss.item<double>();
      ++tail;
    }
  }
  scorer.module().eval();
  return tail ? tail_loss / tail : 0.0;
}

}  // namespace prune::engine::search
