#ifndef PRUNE_ENGINE_IMPORTANCE_H_
#define PRUNE_ENGINE_IMPORTANCE_H_

#include <torch/script.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "analysis.h"
#include "dataset.h"
#include "prune/engine/job.h"

namespace prune::engine {

// Scores every channel of a group (1-D tensor of group.channels entries,
// higher = more important): the sum of the criterion over the group's
// producer weights. Kept for callers of the v0 API ("l1", "l2").
using ImportanceFn =
    std::function<torch::Tensor(const torch::jit::Module& module, const PruningGroup& group)>;

// nullptr if `name` is not a known criterion.
const ImportanceFn* FindImportance(const std::string& name);

struct ImportanceOptions {
  // "l1", "l2", "bn_scale", "taylor", "fpgm" or "random".
  std::string criterion = "l1";
  // How the per-member scores of a group are combined: "sum", "mean", "max".
  std::string reduction = "mean";
  // Per-group normalisation so that groups can be compared (GLOBAL):
  // "mean" (divide by the group's mean score), "max", "sum" or "none".
  std::string normalization = "mean";
  uint64_t seed = 0;  // "random"
  // "taylor": sum over batches of |w * dL/dw| per tensor, keyed "path.name".
  const std::map<std::string, torch::Tensor>* taylor = nullptr;
};

bool IsKnownImportance(const std::string& criterion);

// Normalised per-channel scores of every group (an undefined tensor for
// groups that are not prunable). Throws EngineError INVALID_ARGUMENT.
std::vector<torch::Tensor> ScoreGroups(const torch::jit::Module& module,
                                       const ModelAnalysis& analysis,
                                       const ImportanceOptions& options);

// First-order Taylor statistics: forwards / backwards up to `batches` batches
// of `data` (cross entropy, train mode, parameters unchanged) and sums
// |w * grad| per parameter. Leaves the module in eval mode with no gradients.
std::map<std::string, torch::Tensor> AccumulateTaylor(torch::jit::Module& module,
                                                      const Dataset& data, int64_t batch_size,
                                                      int64_t batches, const torch::Device& device,
                                                      const CancelToken& cancel);

// Scores for a job's importance settings; `train` (may be null) feeds "taylor".
std::vector<torch::Tensor> ScoreForJob(const JobSpec& spec, torch::jit::Module& module,
                                       const ModelAnalysis& analysis, const Dataset* train,
                                       const torch::Device& device, const CancelToken& cancel);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_IMPORTANCE_H_
