#include "evaluate.h"

#include <torch/torch.h>

#include <map>

#include "engine_error.h"

namespace prune::engine {

void ThrowIfCancelled(const CancelToken& cancel) {
  if (cancel.cancelled()) throw EngineError("CANCELLED", "job cancelled");
}

namespace {

torch::Tensor ForwardTensor(torch::jit::Module& module, const torch::Tensor& x) {
  c10::IValue out = module.forward({x});
  if (!out.isTensor()) {
    throw EngineError("INVALID_ARGUMENT", "accuracy needs a model whose forward returns a tensor");
  }
  return out.toTensor();
}

// Runs `module` in eval mode over `data` in batches and hands each batch's
// logits and labels to `on_batch`, after checking the labels fit the classes.
template <typename OnBatch>
void ForEachBatch(torch::jit::Module& module, const Dataset& data, int64_t batch_size,
                  const torch::Device& device, const CancelToken& cancel, OnBatch on_batch) {
  torch::NoGradGuard no_grad;
  module.eval();
  int64_t n = data.inputs.size(0);
  for (int64_t start = 0; start < n; start += batch_size) {
    ThrowIfCancelled(cancel);
    int64_t end = std::min(n, start + batch_size);
    torch::Tensor logits = ForwardTensor(module, data.inputs.slice(0, start, end).to(device));
    torch::Tensor labels = data.targets.slice(0, start, end).to(device);
    if (logits.dim() != 2 || labels.max().item<int64_t>() >= logits.size(1)) {
      throw EngineError("DATASET_INVALID", "targets exceed the model's " +
                                               std::to_string(logits.size(-1)) + " classes");
    }
    on_batch(logits, labels);
  }
}

}  // namespace

double Top1Accuracy(torch::jit::Module& module, const Dataset& data, int64_t batch_size,
                    const torch::Device& device, const CancelToken& cancel) {
  int64_t correct = 0;
  ForEachBatch(module, data, batch_size, device, cancel,
               [&](const torch::Tensor& logits, const torch::Tensor& labels) {
                 correct += logits.argmax(1).eq(labels).sum().item<int64_t>();
               });
  const int64_t n = data.inputs.size(0);
  return n ? static_cast<double>(correct) / static_cast<double>(n) : 0.0;
}

Accuracy TopKAccuracy(torch::jit::Module& module, const Dataset& data, int64_t batch_size,
                      const torch::Device& device, const CancelToken& cancel) {
  int64_t correct1 = 0;
  int64_t correct5 = 0;
  ForEachBatch(module, data, batch_size, device, cancel,
               [&](const torch::Tensor& logits, const torch::Tensor& labels) {
                 correct1 += logits.argmax(1).eq(labels).sum().item<int64_t>();
                 int64_t k = std::min<int64_t>(5, logits.size(1));
                 torch::Tensor top = std::get<1>(logits.topk(k, 1));
                 correct5 += top.eq(labels.unsqueeze(1)).any(1).sum().item<int64_t>();
               });
  Accuracy a;
  const int64_t n = data.inputs.size(0);
  if (n) {
    a.top1 = static_cast<double>(correct1) / static_cast<double>(n);
    a.top5 = static_cast<double>(correct5) / static_cast<double>(n);
  }
  return a;
}

Fidelity OutputFidelity(torch::jit::Module& reference, torch::jit::Module& candidate,
                        const torch::Tensor& inputs, int64_t batch_size,
                        const torch::Device& device, const CancelToken& cancel) {
  torch::NoGradGuard no_grad;
  reference.eval();
  candidate.eval();
  int64_t n = inputs.size(0);
  int64_t agree = 0;
  double kl = 0.0;
  for (int64_t start = 0; start < n; start += batch_size) {
    ThrowIfCancelled(cancel);
    int64_t end = std::min(n, start + batch_size);
    torch::Tensor x = inputs.slice(0, start, end).to(device);
    torch::Tensor p = ForwardTensor(reference, x).to(torch::kFloat64).flatten(1);
    torch::Tensor q = ForwardTensor(candidate, x).to(torch::kFloat64).flatten(1);
    agree += p.argmax(1).eq(q.argmax(1)).sum().item<int64_t>();
    torch::Tensor log_p = torch::log_softmax(p, 1);
    torch::Tensor log_q = torch::log_softmax(q, 1);
    kl += (log_p.exp() * (log_p - log_q)).sum().item<double>();
  }
  Fidelity f;
  if (n) {
    f.top1_agreement = static_cast<double>(agree) / static_cast<double>(n);
    f.mean_kl = kl / static_cast<double>(n);
  }
  return f;
}

void RecalibrateBatchNorm(torch::jit::Module& module, const ModelAnalysis& analysis,
                          const Dataset& data, int64_t batch_size, int64_t max_batches,
                          const torch::Device& device, const CancelToken& cancel) {
  // A module called more than once per forward updates its statistics twice
  // per batch; its statistics are left alone.
  std::map<std::string, int> calls;
  std::map<std::string, double> factor;
  for (const auto& layer : analysis.layers) {
    if (layer.kind != LayerKind::kBatchNorm) continue;
    ++calls[layer.name];
    factor[layer.name] = layer.bn_update_factor;
  }
  struct Stats {
    torch::jit::Module module;
    double factor;
    torch::Tensor mean_sum, var_sum;
  };
  std::vector<Stats> norms;
  for (const auto& [name, count] : calls) {
    torch::jit::Module bn = SubmoduleAt(module, name);
    if (count != 1 || !bn.attr("running_mean").isTensor() || !bn.attr("running_var").isTensor() ||
        factor[name] <= 0) {
      continue;
    }
    norms.push_back({bn, factor[name], {}, {}});
  }
  torch::NoGradGuard no_grad;
  int64_t n = data.inputs.size(0);
  int64_t batches = 0;
  module.train();
  for (int64_t start = 0; start + 1 < n && batches < max_batches; start += batch_size) {
    ThrowIfCancelled(cancel);
    for (auto& s : norms) {
      // Zero statistics: after one update running = factor * batch statistic.
      s.module.attr("running_mean").toTensor().zero_();
      s.module.attr("running_var").toTensor().zero_();
      if (s.module.hasattr("num_batches_tracked") &&
          s.module.attr("num_batches_tracked").isTensor()) {
        s.module.attr("num_batches_tracked").toTensor().zero_();
      }
    }
    int64_t end = std::min(n, start + batch_size);
    module.forward({data.inputs.slice(0, start, end).to(device)});
    for (auto& s : norms) {
      torch::Tensor mean = s.module.attr("running_mean").toTensor() / s.factor;
      torch::Tensor var = s.module.attr("running_var").toTensor() / s.factor;
      s.mean_sum = s.mean_sum.defined() ? s.mean_sum + mean : mean;
      s.var_sum = s.var_sum.defined() ? s.var_sum + var : var;
    }
    ++batches;
  }
  module.eval();
  if (batches == 0) return;
  for (auto& s : norms) {
    s.module.attr("running_mean").toTensor().copy_(s.mean_sum / static_cast<double>(batches));
    s.module.attr("running_var").toTensor().copy_(s.var_sum / static_cast<double>(batches));
  }
}

}  // namespace prune::engine
