#include "cost_model.h"

#include "engine_error.h"

namespace prune::engine {

CostModel::CostModel(const ModelAnalysis& analysis, const std::string& kind)
    : analysis_(&analysis), kind_(kind) {
  if (kind_ == "latency") {
    throw EngineError("INVALID_ARGUMENT", "target kind 'latency' needs a latency table");
  }
  if (kind_ != "flops" && kind_ != "params") {
    throw EngineError("INVALID_ARGUMENT",
                      "unknown target kind '" + kind_ + "' (flops, params or latency)");
  }
  full_ = Cost(FullKeepCounts(analysis));
}

CostModel::CostModel(const ModelAnalysis& analysis, std::shared_ptr<const LatencyTable> table)
    : analysis_(&analysis), kind_("latency"), table_(std::move(table)) {
  if (!table_) throw EngineError("INVALID_ARGUMENT", "latency cost model without a table");
  if (table_->key.model_fingerprint != ModelFingerprint(analysis)) {
    throw EngineError("INVALID_ARGUMENT", "latency table was built for another model");
  }
  full_ = Cost(FullKeepCounts(analysis));
}

const char* CostModel::unit() const {
  if (kind_ == "flops") return "MACs";
  return kind_ == "params" ? "params" : "latency";
}

double CostModel::Cost(const KeepCounts& keep) const {
  if (table_) return table_->PredictMs(*analysis_, keep);
  ModelCost cost = ComputeCost(*analysis_, keep);
  return static_cast<double>(kind_ == "flops" ? cost.macs : cost.params);
}

bool CostModel::IsKnownKind(const std::string& kind) {
  return kind == "flops" || kind == "params" || kind == "latency";
}

}  // namespace prune::engine
