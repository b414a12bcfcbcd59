#ifndef PRUNE_ENGINE_SURGERY_H_
#define PRUNE_ENGINE_SURGERY_H_

#include <torch/script.h>

#include <string>
#include <vector>

#include "analysis.h"
#include "measure.h"

namespace prune::engine {

// Channels kept per group (ascending indices), indexed by group id.
struct PruningPlan {
  std::vector<std::vector<int64_t>> keep;
};

// Keeps the `keep[g]` highest-scoring channels of every group under `importance`.
PruningPlan SelectChannels(const torch::jit::Module& module, const ModelAnalysis& analysis,
                           const KeepCounts& keep, const std::string& importance);

// Keeps the `keep[g]` highest-scoring channels of every prunable group under
// precomputed per-group scores (see ScoreGroups; ties: lower index first).
PruningPlan SelectChannelsByScores(const ModelAnalysis& analysis, const KeepCounts& keep,
                                   const std::vector<torch::Tensor>& scores);

// Rewrites the code of `conv`'s class type so that every conv call computes
// `groups` as weight.size(0) // (original_out_channels / groups) instead of
// using the constant the class was compiled with: right for any channel
// count of a depthwise conv, and a constant again once torch.jit.freeze has
// made the weight one. Affects every module of that class type (see
// surgery.cc).
void MakeConvGroupsFollowChannels(const torch::jit::Module& conv, int64_t original_out_channels);

// Returns a deep copy of `module` whose member tensors are shrunk to the kept
// channels. `module` itself is not modified. Parameter / buffer slots,
// names and requires_grad are preserved.
torch::jit::Module ApplyPlan(const torch::jit::Module& module, const ModelAnalysis& analysis,
                             const PruningPlan& plan);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_SURGERY_H_
