#ifndef PRUNE_ENGINE_JOB_COMMON_H_
#define PRUNE_ENGINE_JOB_COMMON_H_

#include <torch/script.h>

#include <string>
#include <vector>

#include "analysis.h"
#include "json_writer.h"
#include "measure.h"
#include "prune/engine/status.h"

namespace prune::engine {

// torch::jit::load on CPU; throws EngineError MODEL_LOAD_FAILED.
torch::jit::Module LoadModel(const std::string& path);

// Throws EngineError INVALID_ARGUMENT unless every size is positive.
void ValidateInputShape(const std::vector<int64_t>& shape);

// Maps the exception being handled (inside a catch block) to a Status.
Status StatusFromCurrentException();

// "groups" array: id, channels before/after, prunable, reason, producers.
void WriteGroups(JsonWriter& json, const ModelAnalysis& analysis, const KeepCounts& keep);
// "unprunable" array: the groups that are not prunable, with reasons.
void WriteUnprunable(JsonWriter& json, const ModelAnalysis& analysis);
// "layers" array of conv / linear layers: channels and MACs before / after.
void WriteLayers(JsonWriter& json, const ModelAnalysis& analysis, const ModelCost& before,
                 const ModelCost& after);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_JOB_COMMON_H_
