#include "job_common.h"

#include <torch/torch.h>

#include <fstream>

#include "engine_error.h"

namespace prune::engine {

torch::jit::Module LoadModel(const std::string& path) {
  if (!std::ifstream(path, std::ios::binary)) {
    throw EngineError("MODEL_LOAD_FAILED", "cannot open model file '" + path + "'");
  }
  try {
    return torch::jit::load(path, torch::kCPU);
  } catch (const c10::Error& e) {
    throw EngineError("MODEL_LOAD_FAILED",
                      "not a TorchScript archive '" + path + "': " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw EngineError("MODEL_LOAD_FAILED", "not a TorchScript archive '" + path + "': " + e.what());
  }
}

void ValidateInputShape(const std::vector<int64_t>& shape) {
  if (shape.size() < 2) {
    throw EngineError("INVALID_ARGUMENT", "input shape needs a batch and a channel dimension");
  }
  for (int64_t s : shape) {
    if (s <= 0 || s > (int64_t{1} << 20)) {
      throw EngineError("INVALID_ARGUMENT", "input shape sizes must be positive");
    }
  }
}

Status StatusFromCurrentException() {
  try {
    throw;
  } catch (const EngineError& e) {
    return e.ToStatus();
  } catch (const c10::Error& e) {
    return Status{"INTERNAL", e.what_without_backtrace()};
  } catch (const std::bad_alloc&) {
    return Status{"INTERNAL", "out of memory"};
  } catch (const std::exception& e) {
    return Status{"INTERNAL", e.what()};
  } catch (...) {
    return Status{"INTERNAL", "unknown exception"};
  }
}

void WriteGroups(JsonWriter& json, const ModelAnalysis& analysis, const KeepCounts& keep) {
  json.BeginArray();
  for (const auto& g : analysis.groups) {
    json.BeginObject();
    json.Key("id").Int(g.id);
    json.Key("channels_before").Int(g.channels);
    json.Key("channels_after").Int(keep.at(g.id));
    json.Key("prunable").Bool(g.prunable);
    json.Key("reason").String(g.reason);
    json.Key("producers").BeginArray();
    for (const auto& p : g.producers) json.String(p);
    json.EndArray();
    json.Key("members").BeginArray();
    for (const auto& m : g.members) {
      json.String(m.module_path + "." + m.tensor_name + "[dim " + std::to_string(m.dim) +
                  (m.block > 1 ? ", block " + std::to_string(m.block) : "") + "]");
    }
    json.EndArray();
    json.EndObject();
  }
  json.EndArray();
}

void WriteUnprunable(JsonWriter& json, const ModelAnalysis& analysis) {
  json.BeginArray();
  for (const auto& g : analysis.groups) {
    if (g.prunable) continue;
    json.BeginObject();
    json.Key("group").Int(g.id);
    json.Key("producers").BeginArray();
    for (const auto& p : g.producers) json.String(p);
    json.EndArray();
    json.Key("reason").String(g.reason);
    json.EndObject();
  }
  json.EndArray();
}

void WriteLayers(JsonWriter& json, const ModelAnalysis& analysis, const ModelCost& before,
                 const ModelCost& after) {
  json.BeginArray();
  for (size_t i = 0; i < analysis.layers.size(); ++i) {
    const Layer& layer = analysis.layers[i];
    if (IsNormLayer(layer.kind)) continue;
    json.BeginObject();
    json.Key("name").String(layer.name);
    json.Key("kind").String(LayerKindName(layer.kind));
    json.Key("in_channels_before").Int(before.layers[i].in_channels);
    json.Key("in_channels_after").Int(after.layers[i].in_channels);
    json.Key("channels_before").Int(before.layers[i].out_channels);
    json.Key("channels_after").Int(after.layers[i].out_channels);
    json.Key("macs_before").Int(before.layers[i].macs);
    json.Key("macs_after").Int(after.layers[i].macs);
    json.Key("params_before").Int(before.layers[i].params);
    json.Key("params_after").Int(after.layers[i].params);
    json.EndObject();
  }
  json.EndArray();
}

}  // namespace prune::engine
