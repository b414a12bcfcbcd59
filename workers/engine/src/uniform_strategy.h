#ifndef PRUNE_ENGINE_UNIFORM_STRATEGY_H_
#define PRUNE_ENGINE_UNIFORM_STRATEGY_H_

#include <string>

#include "analysis.h"
#include "cost_model.h"
#include "measure.h"

namespace prune::engine {

// Channel-count constraints shared by the strategies.
struct WidthOptions {
  int64_t round_to = 1;      // kept counts are multiples of this (or the whole group)
  int64_t min_channels = 1;  // per prunable group (capped at its size)
};

// Applies `options` to a wanted keep count of a group of `channels`:
// at least min_channels, rounded up to a multiple of round_to, at most channels.
int64_t ConstrainWidth(int64_t wanted, int64_t channels, const WidthOptions& options);

// Keep counts with one keep ratio r for every prunable group
// (ConstrainWidth(round(r * channels))), r found by bisection as the largest
// ratio whose cost (MACs, params or predicted latency: `cost`) is at most
// target_ratio of the original. Throws EngineError TARGET_UNREACHABLE when
// even the minimum width of every prunable group costs more.
KeepCounts UniformKeepCounts(const ModelAnalysis& analysis, const CostModel& cost,
                             double target_ratio, const WidthOptions& options = WidthOptions{});

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_UNIFORM_STRATEGY_H_
