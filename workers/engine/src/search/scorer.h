#ifndef PRUNE_ENGINE_SEARCH_SCORER_H_
#define PRUNE_ENGINE_SEARCH_SCORER_H_

#include <torch/script.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "analysis.h"
#include "batch_norm_calibration.h"
#include "dataset.h"
#include "search/search.h"

namespace prune::engine::search {

struct ScorerOptions {
  int64_t batch_size = 64;
  int64_t calibration_batches = 10;  // BN recalibration batches per candidate
  std::string importance = "l1";     // which channels a width keeps (as SelectChannels)
  // When not empty: per-group channel scores (undefined for unprunable
  // groups) used instead of `importance`, as SelectChannelsByScores does.
  std::vector<torch::Tensor> channel_scores;
  // Runs candidates through the un-optimised graph executor (thread-local
  // switch): every candidate has new tensor shapes, and the profiling
  // executor would otherwise re-profile and re-specialise for each one.
  bool plain_executor = true;
  // Optional full-size replacement of a member tensor for a candidate
  // (PruningNet-generated weights); an undefined tensor keeps the original.
  std::function<torch::Tensor(const std::string& path, const std::string& tensor_name,
                              const KeepCounts& keep)>
      weight_source;
};

// Scores a width assignment with importance-inherited weights: one working
// copy of the model gets, for every prunable group, the top-k channels (by
// `importance`, exactly the channels SelectChannels / ApplyPlan keep) of the
// original tensors, set in place of the old attributes (no clone, no new
// module types); BatchNorm statistics are recalibrated on `calibration` and
// the score is top-1 accuracy on `held_out`. Models with depthwise convs
// fall back to ApplyPlan per candidate. Deterministic: a candidate's
// score does not depend on what was scored before.
class InheritedWeightScorer : public CandidateScorer {
 public:
  InheritedWeightScorer(const torch::jit::Module& original, const ModelAnalysis& analysis,
                        Dataset calibration, Dataset held_out, ScorerOptions options,
                        const torch::Device& device);

  double Score(const KeepCounts& keep, const CancelToken& cancel) override;

  // Sets the candidate's weights into the working module and returns it
  // (valid until the next call); BN statistics are the original ones.
  // With `with_grad`, tensors from `weight_source` keep their autograd graph
  // (PruningNet meta-training).
  torch::jit::Module& Materialize(const KeepCounts& keep, bool with_grad = false);

  const torch::Device& device() const { return device_; }

  // Turns `weight_source` on / off (on by default when set).
  void set_use_weight_source(bool use) { use_weight_source_ = use; }

  // The working module as the last Score / Materialize left it.
  torch::jit::Module& module() { return working_; }

  // Images forwarded (calibration + held-out) per Score call.
  int64_t ImagesPerScore() const;

 private:
  // One tensor with members in prunable groups. Like ApplyPlan, each dim
  // holds one or more group segments (at offsets after a `cat`) plus runs
  // that are never pruned; a tensor in two groups (a conv's output and input
  // channels) is cut along both dims in turn.
  struct Segment {
    int64_t offset;
    int64_t channels;
    int64_t block;
    int group;
  };
  struct Cut {
    int64_t dim;
    std::vector<Segment> segments;  // sorted by offset
  };
  struct Slot {
    torch::jit::Module owner;
    std::string path;
    std::string name;
    torch::Tensor original;
    std::vector<Cut> cuts;
  };
  const ModelAnalysis& analysis_;
  Dataset calibration_;
  Dataset held_out_;
  ScorerOptions options_;
  torch::Device device_;
  torch::jit::Module working_;
  std::vector<std::vector<int64_t>> order_;  // per group: channels by descending importance
  std::vector<Slot> slots_;
  bool use_weight_source_ = true;
  // Recalibrates working_ (built once: it rewrites the forward graph).
  std::unique_ptr<BatchNormCalibrator> calibrator_;
};

}  // namespace prune::engine::search

#endif  // PRUNE_ENGINE_SEARCH_SCORER_H_
