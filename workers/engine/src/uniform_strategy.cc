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

KeepCounts UniformKeepCounts(const ModelAnalysis& analysis, const CostModel& cost,
                             double target_ratio, const WidthOptions& options) {
  const std::string& target_kind = cost.kind();
  const double full = cost.FullCost();
  if (full <= 0) throw EngineError("TARGET_UNREACHABLE", "model has no measurable " + target_kind);
  auto ratio_of = [&](double r) { return cost.Cost(CountsForRatio(analysis, r, options)) / full; };
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
