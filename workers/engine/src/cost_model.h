#ifndef PRUNE_ENGINE_COST_MODEL_H_
#define PRUNE_ENGINE_COST_MODEL_H_

// The cost a compression target bounds: MACs ("flops"), parameters
// ("params"), or latency predicted by a per-layer latency table ("latency").
// Strategies and the search compare Cost(keep) against ratio * FullCost().

#include <memory>
#include <string>

#include "analysis.h"
#include "latency_table.h"
#include "measure.h"

namespace prune::engine {

class CostModel {
 public:
  // "flops" or "params" (analytic). Throws EngineError INVALID_ARGUMENT for
  // any other kind ("latency" needs a table: the other constructor).
  CostModel(const ModelAnalysis& analysis, const std::string& kind);
  // "latency": the table's prediction, in milliseconds.
  CostModel(const ModelAnalysis& analysis, std::shared_ptr<const LatencyTable> table);

  const std::string& kind() const { return kind_; }
  // "MACs", "params" or "latency" (progress messages).
  const char* unit() const;
  double Cost(const KeepCounts& keep) const;
  double FullCost() const { return full_; }
  const LatencyTable* latency_table() const { return table_.get(); }

  // Whether `kind` names a target kind ("flops", "params", "latency").
  static bool IsKnownKind(const std::string& kind);

 private:
  const ModelAnalysis* analysis_;
  std::string kind_;
  std::shared_ptr<const LatencyTable> table_;
  double full_ = 0.0;
};

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_COST_MODEL_H_
