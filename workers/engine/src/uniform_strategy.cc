#include "uniform_strategy.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine_error.h"

namespace prune::engine {
namespace {

KeepCounts CountsForRatio(const ModelAnalysis& analysis, double ratio,
                          const WidthOptions& options) {
  KeepCounts keep;
  for (const auto& g : analysis.groups) {
    if (!g.prunable) {
      keep.push_back(g.channels);
      continue;
    }
    auto k = static_cast<int64_t>(std::llround(ratio * static_cast<double>(g.channels)));
    keep.push_back(ConstrainWidth(k, g.channels, options));
  }
  return keep;
}

}  // namespace

int64_t ConstrainWidth(int64_t wanted, int64_t channels, const WidthOptions& options) {
  int64_t k = std::max<int64_t>({wanted, options.min_channels, 1});
  int64_t r = std::max<int64_t>(1, options.round_to);
  k = (k + r - 1) / r * r;
  return std::min(k, channels);
}

int64_t CostOf(const ModelAnalysis& analysis, const KeepCounts& keep,
               const std::string& target_kind) {
  ModelCost cost = ComputeCost(analysis, keep);
  if (target_kind == "flops") return cost.macs;
  if (target_kind == "params") return cost.params;
  throw EngineError("INVALID_ARGUMENT", "unknown target kind '" + target_kind + "'");
}

KeepCounts UniformKeepCounts(const ModelAnalysis& analysis, const std::string& target_kind,
                             double target_ratio) {
  return UniformKeepCounts(analysis, target_kind, target_ratio, WidthOptions{});
}

KeepCounts UniformKeepCounts(const ModelAnalysis& analysis, const std::string& target_kind,
                             double target_ratio, const WidthOptions& options) {
  const double full = static_cast<double>(CostOf(analysis, FullKeepCounts(analysis), target_kind));
  if (full <= 0) throw EngineError("TARGET_UNREACHABLE", "model has no measurable " + target_kind);
  auto ratio_of = [&](double r) {
    return static_cast<double>(CostOf(analysis, CountsForRatio(analysis, r, options), target_kind)) / full;
  };
  const double smallest = ratio_of(0.0);
  if (smallest > target_ratio) {
    std::ostringstream msg;
    int unprunable = 0;
    for (const auto& g : analysis.groups) unprunable += g.prunable ? 0 : 1;
    msg << target_kind << " target " << target_ratio << " unreachable: keeping the minimum width "
        << "of every prunable group still leaves " << smallest << " of the original ("
        << unprunable << " of " << analysis.groups.size()
        << " groups are not prunable; see the analysis for the reasons)";
    throw EngineError("TARGET_UNREACHABLE", msg.str());
  }
  double lo = 0.0;
  double hi = 1.0;
  for (int i = 0; i < 50; ++i) {
    double mid = 0.5 * (lo + hi);
    (ratio_of(mid) <= target_ratio ? lo : hi) = mid;
  }
  return CountsForRatio(analysis, lo, options);
}

}  // namespace prune::engine
