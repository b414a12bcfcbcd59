#ifndef PRUNE_ENGINE_EVALUATE_H_
#define PRUNE_ENGINE_EVALUATE_H_

#include <torch/script.h>

#include "analysis.h"
#include "dataset.h"
#include "prune/engine/job.h"

namespace prune::engine {

// Throws EngineError CANCELLED once `cancel` is set.
void ThrowIfCancelled(const CancelToken& cancel);

// Top-1 accuracy in eval mode, batched. Throws EngineError DATASET_INVALID
// when a label is out of the model's class range.
double Top1Accuracy(torch::jit::Module& module, const Dataset& data, int64_t batch_size,
                    const torch::Device& device, const CancelToken& cancel);

struct Accuracy {
  double top1 = 0.0;
  double top5 = 0.0;  // equals 1 when the model has at most 5 classes
};

// Top-1 and top-5 accuracy in eval mode, batched (same checks as Top1Accuracy).
Accuracy TopKAccuracy(torch::jit::Module& module, const Dataset& data, int64_t batch_size,
                      const torch::Device& device, const CancelToken& cancel);

// Label-free fidelity of `candidate` to `reference` on `inputs`: the fraction
// of samples with the same top-1 class, and the mean KL(reference || candidate)
// of the softmax outputs (nats per sample).
struct Fidelity {
  double top1_agreement = 0.0;
  double mean_kl = 0.0;
};
Fidelity OutputFidelity(torch::jit::Module& reference, torch::jit::Module& candidate,
                        const torch::Tensor& inputs, int64_t batch_size,
                        const torch::Device& device, const CancelToken& cancel);

// Re-estimates BatchNorm running statistics as the plain average over up to
// `max_batches` batches of `data` (forwarded in train mode, no gradients),
// then leaves the module in eval mode.
void RecalibrateBatchNorm(torch::jit::Module& module, const ModelAnalysis& analysis,
                          const Dataset& data, int64_t batch_size, int64_t max_batches,
                          const torch::Device& device, const CancelToken& cancel);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_EVALUATE_H_
