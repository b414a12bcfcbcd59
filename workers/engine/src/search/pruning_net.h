#ifndef PRUNE_ENGINE_SEARCH_PRUNING_NET_H_
#define PRUNE_ENGINE_SEARCH_PRUNING_NET_H_

// MetaPruning's PruningNet (Liu et al., 2019), compact CPU variant: one small
// generator MLP per conv / linear layer maps the layer's width encoding
// (kept output ratio, kept input ratio) to that layer's full-size weight,
// which the candidate then crops to its kept channels (the same channels as
// weight inheritance). Deviation from the paper, for short CPU meta-training:
// the generator outputs a multiplicative correction of the original weight,
// W = W0 * (1 + G(enc)), with G's last layer initialised to zero, so an
// untrained PruningNet reproduces weight inheritance exactly.

#include <torch/torch.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "analysis.h"
#include "dataset.h"
#include "measure.h"
#include "prune/engine/job.h"
#include "search/scorer.h"
#include "search/search.h"

namespace prune::engine::search {

struct PruningNetOptions {
  int hidden = 32;
  int steps = 200;  // meta-training batches, each with freshly sampled widths
  double lr = 1e-3;
  int levels = 10;  // width levels sampled per unit
};

class PruningNet {
 public:
  PruningNet(const torch::jit::Module& original, const ModelAnalysis& analysis,
             PruningNetOptions options, uint64_t seed);

  // Full-size generated weight of the conv / linear at `path` for `keep`;
  // undefined when the layer has no generator.
  torch::Tensor Generate(const std::string& path, const std::string& tensor_name,
                         const KeepCounts& keep);

  // Replaces the weight of every generated layer of `module` (a copy of the
  // original) by its generated full-size weight for `keep`.
  void ApplyTo(torch::jit::Module& module, const KeepCounts& keep);

  // Meta-trains the generators on `train` through `scorer`'s working model
  // (stochastic widths per batch, cross entropy, Adam). Deterministic for a
  // seed on CPU. Returns the mean loss of the last 10% of the steps.
  double MetaTrain(InheritedWeightScorer& scorer, const std::vector<Unit>& units,
                   const Dataset& train, int64_t batch_size, const CancelToken& cancel);

 private:
  struct Generator {
    int in_group = -1;
    int out_group = -1;
    int64_t in_channels = 0;
    int64_t out_channels = 0;
    torch::Tensor original;
    torch::nn::Sequential mlp{nullptr};
  };
  const ModelAnalysis& analysis_;
  PruningNetOptions options_;
  std::mt19937_64 rng_;
  std::map<std::string, Generator> generators_;  // by module path
  std::vector<torch::Tensor> parameters_;
};

}  // namespace prune::engine::search

#endif  // PRUNE_ENGINE_SEARCH_PRUNING_NET_H_
