#include <torch/script.h>

#include <cstdio>
#include <sstream>

#include "analysis.h"
#include "job_common.h"
#include "json_writer.h"
#include "measure.h"
#include "prune/engine/job.h"

namespace prune::engine {
namespace {

std::string Percent(double part, double whole) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", whole > 0 ? 100.0 * part / whole : 0.0);
  return buf;
}

std::string Join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ",") + i;
  return s;
}

}  // namespace

Status AnalyzeModelFile(const std::string& model_path, const std::vector<int64_t>& input_shape,
                        AnalyzeOutcome* out) {
  try {
    ValidateInputShape(input_shape);
    torch::jit::Module module = LoadModel(model_path);
    module.eval();
    ModelAnalysis analysis = AnalyzeModel(module, input_shape);
    KeepCounts full = FullKeepCounts(analysis);
    ModelCost cost = ComputeCost(analysis, full);

    // MACs of the layers reading or writing each group. A layer fed by a
    // concatenation (DenseNet, Inception) reads several groups: each gets
    // the share of its channels, since the layer's MACs scale with them.
    std::vector<int64_t> group_macs(analysis.groups.size(), 0);
    const auto add_parts = [&group_macs](const std::vector<ChannelPart>& parts, int64_t macs) {
      int64_t channels = 0;
      for (const ChannelPart& part : parts) channels += part.channels;
      if (channels <= 0) return;
      for (const ChannelPart& part : parts) {
        if (part.group >= 0) group_macs[part.group] += macs * part.channels / channels;
      }
    };
    for (size_t i = 0; i < analysis.layers.size(); ++i) {
      const Layer& l = analysis.layers[i];
      const int64_t macs = cost.layers[i].macs;
      if (l.out_group >= 0) group_macs[l.out_group] += macs;
      if (l.in_group >= 0 && l.in_group != l.out_group) group_macs[l.in_group] += macs;
      add_parts(l.in_parts, macs);
      if (l.out_group < 0) add_parts(l.out_parts, macs);
    }

    JsonWriter json;
    json.BeginObject();
    json.Key("engine_version").String(EngineVersion());
    json.Key("macs").Int(cost.macs);
    json.Key("params").Int(cost.params);
    json.Key("groups");
    WriteGroups(json, analysis, full);
    json.Key("layers");
    WriteLayers(json, analysis, cost, cost);
    json.Key("unprunable");
    WriteUnprunable(json, analysis);
    json.EndObject();

    std::ostringstream table;
    char line[512];
    table << "Pruning groups\n";
    std::snprintf(line, sizeof(line), "%-6s %-9s %-10s %-9s %s\n", "group", "channels",
                  "MACs share", "prunable", "layers / reason");
    table << line;
    for (const auto& g : analysis.groups) {
      std::snprintf(
          line, sizeof(line), "%-6d %-9lld %-10s %-9s %s\n", g.id,
          static_cast<long long>(g.channels),
          Percent(static_cast<double>(group_macs[g.id]), static_cast<double>(cost.macs)).c_str(),
          g.prunable ? "yes" : "no", Join(g.producers).c_str());
      table << line;
      if (!g.prunable) table << "       reason: " << g.reason << "\n";
    }
    table << "\nLayers\n";
    std::snprintf(line, sizeof(line), "%-32s %-10s %-8s %-8s %-12s %-10s\n", "name", "kind", "in",
                  "out", "MACs", "params");
    table << line;
    for (size_t i = 0; i < analysis.layers.size(); ++i) {
      const Layer& l = analysis.layers[i];
      std::snprintf(line, sizeof(line), "%-32s %-10s %-8lld %-8lld %-12lld %-10lld\n",
                    l.name.c_str(), LayerKindName(l.kind),
                    static_cast<long long>(cost.layers[i].in_channels),
                    static_cast<long long>(cost.layers[i].out_channels),
                    static_cast<long long>(cost.layers[i].macs),
                    static_cast<long long>(cost.layers[i].params));
      table << line;
    }
    table << "\nTotal MACs " << cost.macs << ", params " << cost.params << "\n";
    if (out) {
      out->report_json = json.str();
      out->table = table.str();
    }
    return Status{};
  } catch (...) {
    return StatusFromCurrentException();
  }
}

}  // namespace prune::engine
