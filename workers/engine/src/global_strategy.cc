#include "global_strategy.h"

#include <torch/torch.h>

#include <algorithm>
#include <sstream>
#include <tuple>

#include "engine_error.h"

namespace prune::engine {

KeepCounts GlobalKeepCounts(const ModelAnalysis& analysis, const std::vector<torch::Tensor>& scores,
                            const CostModel& cost, double target_ratio,
                            const WidthOptions& options) {
  const std::string& target_kind = cost.kind();
  // (score, group, channel) ascending: the first n entries are removed.
  std::vector<std::tuple<double, int, int64_t>> ranked;
  for (const auto& g : analysis.groups) {
    if (!g.prunable || !scores.at(g.id).defined()) continue;
    torch::Tensor s = scores[g.id].to(torch::kCPU, torch::kFloat64).contiguous();
    const double* data = s.data_ptr<double>();
    for (int64_t c = 0; c < g.channels; ++c) ranked.emplace_back(data[c], g.id, c);
  }
  std::stable_sort(ranked.begin(), ranked.end());
  auto counts_for = [&](size_t n) {
    KeepCounts keep = FullKeepCounts(analysis);
    for (size_t i = 0; i < n; ++i) --keep[std::get<1>(ranked[i])];
    for (const auto& g : analysis.groups) {
      if (g.prunable && scores.at(g.id).defined()) {
        keep[g.id] = ConstrainWidth(keep[g.id], g.channels, options);
      }
    }
    return keep;
  };
  const double full = cost.FullCost();
  if (full <= 0) throw EngineError("TARGET_UNREACHABLE", "model has no measurable " + target_kind);
  auto ratio_of = [&](size_t n) { return cost.Cost(counts_for(n)) / full; };
  const double smallest = ratio_of(ranked.size());
  if (smallest > target_ratio) {
    int unprunable = 0;
    for (const auto& g : analysis.groups) unprunable += g.prunable ? 0 : 1;
    std::ostringstream msg;
    msg << target_kind << " target " << target_ratio << " unreachable: keeping the minimum width "
        << "of every prunable group still leaves " << smallest << " of the original ("
        << unprunable << " of " << analysis.groups.size()
        << " groups are not prunable; see the analysis for the reasons)";
    throw EngineError("TARGET_UNREACHABLE", msg.str());
  }
  // Smallest n with ratio_of(n) <= target (ratio_of is non-increasing in n).
  size_t lo = 0;
  size_t hi = ranked.size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ratio_of(mid) <= target_ratio) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return counts_for(lo);
}

KeepCounts BaselineKeepCounts(const JobSpec& spec, const ModelAnalysis& analysis,
                              const std::vector<torch::Tensor>& scores, const CostModel& cost) {
  WidthOptions width;
  width.round_to = spec.round_to;
  width.min_channels = spec.min_channels;
  if (spec.strategy == "global") {
    return GlobalKeepCounts(analysis, scores, cost, spec.target_ratio, width);
  }
  return UniformKeepCounts(analysis, cost, spec.target_ratio, width);
}

}  // namespace prune::engine
