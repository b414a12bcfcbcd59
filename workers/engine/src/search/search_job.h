#ifndef PRUNE_ENGINE_SEARCH_SEARCH_JOB_H_
#define PRUNE_ENGINE_SEARCH_SEARCH_JOB_H_

// Glue between RunPruneJob (job.cc) and the search strategies.

#include <torch/script.h>

#include <functional>
#include <string>

#include "analysis.h"
#include "dataset.h"
#include "json_writer.h"
#include "prune/engine/job.h"
#include "search/search.h"

namespace prune::engine::search {

SearchOptions SearchOptionsFromSpec(const JobSpec& spec);

// Runs spec.strategy on `original`: candidates are calibrated on the start of
// `split.train` and scored on its last spec.search_eval_samples samples (the
// reported accuracy stays on split.eval); `cost` measures spec.target_kind.
// Resumes from
// spec.search_resume_state when set; calls spec.on_checkpoint. Candidates keep
// the top channels by `channel_scores` (per group, as SelectChannelsByScores;
// nullptr: L1 magnitude). In MetaPruning "pruningnet" mode, when the
// generated weights score better than inherited ones for the chosen widths,
// `*weights_source` is set to a copy of `original` with the generated
// full-size weights (prune that instead of `original`).
SearchResult RunSearchForJob(const JobSpec& spec, const torch::jit::Module& original,
                             const ModelAnalysis& analysis, const DatasetSplit& split,
                             const torch::Device& device, const CancelToken& cancel,
                             const CostModel& cost,
                             const std::function<void(double, const std::string&)>& on_progress,
                             const std::vector<torch::Tensor>* channel_scores = nullptr,
                             torch::jit::Module* weights_source = nullptr);

// "search" object value (settings, evaluations, wall time, best, keep counts).
void WriteSearchSection(JsonWriter& json, const JobSpec& spec, const SearchResult& result);
// "candidates" array value: at most `cap` (Pareto front and best first), in evaluation order.
void WriteCandidates(JsonWriter& json, const SearchResult& result, const ModelAnalysis& analysis,
                     size_t cap = 500);

}  // namespace prune::engine::search

#endif  // PRUNE_ENGINE_SEARCH_SEARCH_JOB_H_
