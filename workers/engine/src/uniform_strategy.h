#ifndef PRUNE_ENGINE_UNIFORM_STRATEGY_H_
#define PRUNE_ENGINE_UNIFORM_STRATEGY_H_

#include <string>

#include "analysis.h"
#include "measure.h"

namespace prune::engine {

// Keep counts with one keep ratio r for every prunable group
// (max(1, round(r * channels))), r found by bisection as the largest ratio
// whose cost (target_kind "flops" = MACs, or "params") is at most
// target_ratio of the original. Throws EngineError TARGET_UNREACHABLE when
// even one channel per prunable group costs more.
KeepCounts UniformKeepCounts(const ModelAnalysis& analysis, const std::string& target_kind,
                             double target_ratio);

// Channel-count constraints shared by the strategies.
struct WidthOptions {
  int64_t round_to = 1;      // kept counts are multiples of this (or the whole group)
  int64_t min_channels = 1;  // per prunable group (capped at its size)
};

// Applies `options` to a wanted keep count of a group of `channels`:
// at least min_channels, rounded up to a multiple of round_to, at most channels.
int64_t ConstrainWidth(int64_t wanted, int64_t channels, const WidthOptions& options);

KeepCounts UniformKeepCounts(const ModelAnalysis& analysis, const std::string& target_kind,
                             double target_ratio, const WidthOptions& options);

// Cost of `keep` for a target kind ("flops" or "params").
int64_t CostOf(const ModelAnalysis& analysis, const KeepCounts& keep,
               const std::string& target_kind);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_UNIFORM_STRATEGY_H_
