#ifndef PRUNE_ENGINE_GLOBAL_STRATEGY_H_
#define PRUNE_ENGINE_GLOBAL_STRATEGY_H_

#include <torch/script.h>

#include <string>
#include <vector>

#include "analysis.h"
#include "cost_model.h"
#include "measure.h"
#include "prune/engine/job.h"
#include "uniform_strategy.h"

namespace prune::engine {

// GLOBAL ranking: all channels of all prunable groups are ranked together by
// their (normalised) scores; the lowest-ranked n are removed, n the smallest
// count (found by bisection) whose cost (after the width constraints) is at
// most target_ratio of the original (`cost`: MACs, params or predicted
// latency). Throws EngineError TARGET_UNREACHABLE when even the minimum width
// of every prunable group costs more.
KeepCounts GlobalKeepCounts(const ModelAnalysis& analysis, const std::vector<torch::Tensor>& scores,
                            const CostModel& cost, double target_ratio,
                            const WidthOptions& options);

// Keep counts of the ranking baselines for a job: "uniform" or "global",
// with the job's target measured by `cost`.
KeepCounts BaselineKeepCounts(const JobSpec& spec, const ModelAnalysis& analysis,
                              const std::vector<torch::Tensor>& scores, const CostModel& cost);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_GLOBAL_STRATEGY_H_
