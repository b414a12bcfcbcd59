#include "evaluate.h"

#include <torch/torch.h>

#include "batch_norm_calibration.h"
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
  // Read once, not per batch: on a GPU each read waits for the queued work.
  const int64_t max_label = n > 0 ? data.targets.max().item<int64_t>() : 0;
  for (int64_t start = 0; start < n; start += batch_size) {
    ThrowIfCancelled(cancel);
    int64_t end = std::min(n, start + batch_size);
    torch::Tensor logits = ForwardTensor(module, data.inputs.slice(0, start, end).to(device));
    torch::Tensor labels = data.targets.slice(0, start, end).to(device);
    if (logits.dim() != 2 || max_label >= logits.size(1)) {
      throw EngineError("DATASET_INVALID", "targets exceed the model's " +
                                               std::to_string(logits.size(-1)) + " classes");
    }
    on_batch(logits, labels);
  }
}

}  // namespace

double Top1Accuracy(torch::jit::Module& module, const Dataset& data, int64_t batch_size,
                    const torch::Device& device, const CancelToken& cancel) {
  // Counted on the device and read once at the end (no per-batch sync).
  torch::Tensor correct;
  ForEachBatch(module, data, batch_size, device, cancel,
               [&](const torch::Tensor& logits, const torch::Tensor& labels) {
                 torch::Tensor hits = logits.argmax(1).eq(labels).sum();
                 correct = correct.defined() ? correct + hits : hits;
               });
  const int64_t n = data.inputs.size(0);
  return n ? static_cast<double>(correct.item<int64_t>()) / static_cast<double>(n) : 0.0;
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
  // Rewritten graph on CPUs only (see InheritedWeightScorer).
  BatchNormCalibrator(module, analysis, !device.is_cuda())
      .Run(data, batch_size, max_batches, device, cancel);
}

}  // namespace prune::engine
