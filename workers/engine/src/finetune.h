#ifndef PRUNE_ENGINE_FINETUNE_H_
#define PRUNE_ENGINE_FINETUNE_H_

#include <torch/script.h>

#include <cstdint>
#include <functional>

#include "analysis.h"
#include "dataset.h"
#include "prune/engine/job.h"

namespace prune::engine {

struct FineTuneOptions {
  int epochs = 0;
  double lr = 0.01;
  double momentum = 0.9;
  double weight_decay = 5e-4;  // not applied to batch-norm parameters
  int64_t batch_size = 64;
  uint64_t seed = 0;
  // Knowledge distillation from `teacher` (eval mode, not trained) when
  // kd_alpha > 0: loss = (1 - a) * CE + a * T^2 * KL(softmax(t/T) || softmax(s/T)).
  torch::jit::Module* teacher = nullptr;
  double kd_alpha = 0.0;
  double kd_temperature = 4.0;
};

// SGD with momentum, cosine learning-rate schedule (per step, to 0), cross
// entropy. Deterministic on CPU for a given seed. `on_epoch(epoch, loss)` is
// called after every epoch. Leaves the module in eval mode.
void FineTune(torch::jit::Module& module, const ModelAnalysis& analysis, const Dataset& data,
              const FineTuneOptions& options, const torch::Device& device,
              const CancelToken& cancel, const std::function<void(int, double)>& on_epoch);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_FINETUNE_H_
