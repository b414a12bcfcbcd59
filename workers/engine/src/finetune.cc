#include "finetune.h"

#include <torch/torch.h>

#include <cmath>
#include <set>

#include "engine_error.h"
#include "evaluate.h"

namespace prune::engine {

void FineTune(torch::jit::Module& module, const ModelAnalysis& analysis, const Dataset& data,
              const FineTuneOptions& options, const torch::Device& device,
              const CancelToken& cancel, const std::function<void(int, double)>& on_epoch) {
  if (options.epochs <= 0) return;
  std::set<std::string> norm_modules;
  for (const auto& layer : analysis.layers) {
    if (IsNormLayer(layer.kind)) norm_modules.insert(layer.name);
  }
  std::vector<torch::Tensor> decayed, not_decayed;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) {
    if (!p.value.requires_grad()) continue;
    auto dot = p.name.rfind('.');
    std::string owner = dot == std::string::npos ? "" : p.name.substr(0, dot);
    (norm_modules.count(owner) ? not_decayed : decayed).push_back(p.value);
  }
  auto sgd_options = [&](double decay) {
    return std::make_unique<torch::optim::SGDOptions>(
        torch::optim::SGDOptions(options.lr).momentum(options.momentum).weight_decay(decay));
  };
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  if (!decayed.empty()) param_groups.emplace_back(decayed, sgd_options(options.weight_decay));
  if (!not_decayed.empty()) param_groups.emplace_back(not_decayed, sgd_options(0.0));
  if (param_groups.empty()) return;
  torch::optim::SGD optimizer(std::move(param_groups), torch::optim::SGDOptions(options.lr));

  torch::manual_seed(options.seed);
  const int64_t n = data.inputs.size(0);
  const int64_t batch = std::max<int64_t>(1, options.batch_size);
  const int64_t steps_per_epoch = (n + batch - 1) / batch;
  const int64_t total_steps = steps_per_epoch * options.epochs;
  int64_t step = 0;
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    module.train();
    torch::Tensor order = torch::randperm(n, torch::kInt64);
    double loss_sum = 0;
    int64_t loss_count = 0;
    for (int64_t start = 0; start < n; start += batch, ++step) {
      ThrowIfCancelled(cancel);
      int64_t end = std::min(n, start + batch);
      if (end - start < 2) continue;  // batch norm needs more than one sample
      double lr =
          0.5 * options.lr *
          (1.0 + std::cos(M_PI * static_cast<double>(step) / static_cast<double>(total_steps)));
      for (auto& group : optimizer.param_groups()) {
        static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
      }
      torch::Tensor index = order.slice(0, start, end);
      torch::Tensor x = data.inputs.index_select(0, index).to(device);
      torch::Tensor y = data.targets.index_select(0, index).to(device);
      c10::IValue out = module.forward({x});
      if (!out.isTensor()) {
        throw EngineError("INVALID_ARGUMENT", "fine-tuning needs a forward returning a tensor");
      }
      torch::Tensor logits = out.toTensor();
      torch::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
      if (options.teacher && options.kd_alpha > 0) {
        torch::Tensor teacher_logits;
        {
          torch::NoGradGuard no_grad;
          options.teacher->eval();
          teacher_logits = options.teacher->forward({x}).toTensor();
        }
        const double t = options.kd_temperature;
        torch::Tensor log_p = torch::log_softmax(teacher_logits / t, 1);
        torch::Tensor log_q = torch::log_softmax(logits / t, 1);
        torch::Tensor kd = (log_p.exp() * (log_p - log_q)).sum(1).mean() * (t * t);
        loss = (1.0 - options.kd_alpha) * loss + options.kd_alpha * kd;
      }
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      ++loss_count;
    }
    if (on_epoch) on_epoch(epoch, loss_count ? loss_sum / static_cast<double>(loss_count) : 0.0);
  }
  module.eval();
}

}  // namespace prune::engine
