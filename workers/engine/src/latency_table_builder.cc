#include "latency_table_builder.h"

#include <dirent.h>
#include <sys/stat.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "engine_error.h"
#include "evaluate.h"
#include "layer_timing.h"
#include "measure.h"

namespace prune::engine {
namespace {

// POSIX calls rather than std::filesystem: with PyTorch 2.11's pip libtorch
// and GCC 13 (the GPU machine), the first std::filesystem call crashed.

// Value of the first "<label> : value" line of a /proc style file.
std::string ProcField(const std::string& file, const std::string& label) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, label.size(), label) != 0) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    return value;
  }
  return "";
}

// LibTorch 1.13 without CUDA headers cannot ask the CUDA runtime for the
// device name, so the NVIDIA driver's /proc entries name the GPU models
// (all distinct models on the machine, since CUDA's device order need not be
// the PCI order).
std::string DeviceDescription(const torch::Device& device) {
  if (device.is_cuda()) {
    std::set<std::string> models;
    const std::string root = "/proc/driver/nvidia/gpus";
    if (DIR* dir = opendir(root.c_str())) {
      while (const dirent* entry = readdir(dir)) {
        if (entry->d_name[0] == '.') continue;
        std::string model = ProcField(root + "/" + entry->d_name + "/information", "Model");
        if (!model.empty()) models.insert(model);
      }
      closedir(dir);
    }
    std::string names;
    for (const auto& m : models) names += (names.empty() ? "" : " + ") + m;
    return device.str() + ": " + (names.empty() ? "unknown GPU model" : names);
  }
  std::string cpu = ProcField("/proc/cpuinfo", "model name");
  return "cpu: " + (cpu.empty() ? std::string("unknown model") : cpu) + ", " +
         std::to_string(at::get_num_threads()) + " threads";
}

std::vector<int64_t> GridCounts(int64_t channels, int points) {
  std::vector<int64_t> counts;
  for (int i = 1; i <= points; ++i) {
    auto c = static_cast<int64_t>(std::llround(static_cast<double>(i * channels) / points));
    c = std::clamp<int64_t>(c, 1, channels);
    if (counts.empty() || counts.back() != c) counts.push_back(c);
  }
  return counts;
}

bool Prunable(const ModelAnalysis& analysis, int group) {
  return group >= 0 && analysis.groups.at(group).prunable;
}

// Whether pruning can change the layer's input channels (a depthwise conv's
// input follows its output, which is the varied axis).
bool InputVaries(const ModelAnalysis& analysis, const Layer& layer) {
  if (layer.depthwise) return false;
  if (Prunable(analysis, layer.in_group)) return true;
  for (const ChannelPart& p : layer.in_parts) {
    if (Prunable(analysis, p.group)) return true;
  }
  return false;
}

bool OutputVaries(const ModelAnalysis& analysis, const Layer& layer) {
  if (Prunable(analysis, layer.out_group)) return true;
  for (const ChannelPart& p : layer.out_parts) {
    if (Prunable(analysis, p.group)) return true;
  }
  return false;
}

// Grid of kept counts along one axis: channels that are several runs of one
// group (a grouped conv's conv groups, the units of a channel shuffle) shrink
// in steps of that many channels, and only such counts can be timed.
std::vector<int64_t> AxisCounts(const ModelAnalysis& analysis, const Layer& layer,
                                const std::vector<ChannelPart>& parts, int64_t channels, int points,
                                bool varies) {
  if (!varies) return {channels};
  int group = -1;
  int64_t copies = 0, fixed = 0, run = 0;
  bool one_group = true;
  for (const ChannelPart& p : parts) {
    if (!Prunable(analysis, p.group)) {
      fixed += p.channels;
      continue;
    }
    if (group >= 0 && p.group != group) one_group = false;
    group = p.group;
    run = p.channels;
    ++copies;
  }
  if (one_group && copies > 1 && fixed + copies * run == channels) {
    std::vector<int64_t> counts = GridCounts(run, points);
    for (int64_t& c : counts) c = fixed + copies * c;
    return counts;
  }
  const int64_t step = layer.kind == LayerKind::kConv && !layer.depthwise ? layer.conv_groups : 1;
  if (step <= 1 || channels % step != 0) return GridCounts(channels, points);
  std::vector<int64_t> counts = GridCounts(channels / step, points);
  for (int64_t& c : counts) c *= step;
  return counts;
}

// mkdir -p; false when the directory does not exist afterwards.
bool MakeDirectories(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    ::mkdir(path.substr(0, slash).c_str(), 0755);
  }
  ::mkdir(path.c_str(), 0755);
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

LatencyTableKey LatencyKeyFor(const ModelAnalysis& analysis, const LatencyTableOptions& options) {
  LatencyTableKey key;
  key.model_fingerprint = ModelFingerprint(analysis);
  key.input_shape = analysis.input_shape;
  key.batch_size = options.batch_size;
  key.device = DeviceDescription(options.device);
  key.torch_version = std::to_string(TORCH_VERSION_MAJOR) + "." +
                      std::to_string(TORCH_VERSION_MINOR) + "." +
                      std::to_string(TORCH_VERSION_PATCH);
  key.grid_points = options.grid_points;
  return key;
}

LatencyTable BuildLatencyTable(torch::jit::Module& module, const ModelAnalysis& analysis,
                               const LatencyTableOptions& options, const CancelToken& cancel,
                               int* measurements) {
  if (options.batch_size < 1 || options.grid_points < 1 || options.layer_runs < 1 ||
      options.model_runs < 1) {
    throw EngineError("INVALID_ARGUMENT", "bad latency table settings");
  }
  LatencyTable table;
  table.key = LatencyKeyFor(analysis, options);
  const ModelCost full = ComputeCost(analysis, FullKeepCounts(analysis));
  LayerTimingOptions timing;
  timing.batch_size = options.batch_size;
  timing.runs = options.layer_runs;
  timing.device = options.device;
  std::vector<int> timed;
  for (size_t i = 0; i < analysis.layers.size(); ++i) {
    if (CanTimeLayer(analysis.layers[i])) timed.push_back(static_cast<int>(i));
  }
  int made = 0;
  double layers_full_ms = 0.0;
  for (size_t n = 0; n < timed.size(); ++n) {
    const int index = timed[n];
    const Layer& layer = analysis.layers[index];
    const LayerCost& size = full.layers[index];
    if (options.on_progress) {
      options.on_progress(
          static_cast<double>(n) / static_cast<double>(timed.size() + 1),
          "layer " + std::to_string(n + 1) + "/" + std::to_string(timed.size()) + " " + layer.name);
    }
    LayerLatencyGrid grid;
    grid.layer = index;
    grid.in_counts = AxisCounts(analysis, layer, layer.in_parts, size.in_channels,
                                options.grid_points, InputVaries(analysis, layer));
    grid.out_counts = AxisCounts(analysis, layer, layer.out_parts, size.out_channels,
                                 options.grid_points, OutputVaries(analysis, layer));
    for (int64_t in : grid.in_counts) {
      for (int64_t out : grid.out_counts) {
        ThrowIfCancelled(cancel);
        if (options.on_measure) options.on_measure(index);
        grid.ms.push_back(TimeLayerMs(layer, in, out, timing));
        ++made;
      }
    }
    layers_full_ms += grid.ms.back();
    table.layers.push_back(std::move(grid));
  }
  ThrowIfCancelled(cancel);
  if (options.on_progress)
    options.on_progress(1.0 - 1.0 / static_cast<double>(timed.size() + 1), "whole model");
  table.model_ms = MeasureLatencyMs(module, analysis.input_shape, options.batch_size,
                                    options.model_runs, options.device);
  table.remainder_ms = std::max(0.0, table.model_ms - layers_full_ms);
  if (measurements) *measurements = made;
  return table;
}

LatencyTableResult LoadOrBuildLatencyTable(torch::jit::Module& module,
                                           const ModelAnalysis& analysis,
                                           const LatencyTableOptions& options,
                                           const CancelToken& cancel) {
  LatencyTableResult result;
  const LatencyTableKey key = LatencyKeyFor(analysis, options);
  if (!options.cache_dir.empty()) {
    result.cache_path = options.cache_dir + "/latency-" + HexDigest(key.Describe()) + ".table";
    std::ifstream in(result.cache_path, std::ios::binary);
    if (in) {
      std::ostringstream text;
      text << in.rdbuf();
      try {
        auto cached = std::make_shared<LatencyTable>(LatencyTable::Parse(text.str()));
        if (cached->key == key) {
          result.table = std::move(cached);
          result.from_cache = true;
          return result;
        }
      } catch (const EngineError&) {
        // Unreadable (e.g. from another engine version): rebuilt and replaced below.
      }
    }
  }
  auto start = std::chrono::steady_clock::now();
  auto table = std::make_shared<LatencyTable>(
      BuildLatencyTable(module, analysis, options, cancel, &result.measurements));
  result.build_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!result.cache_path.empty()) {
    // A cache that cannot be written costs the next job a rebuild, not this job.
    MakeDirectories(options.cache_dir);
    const std::string tmp = result.cache_path + ".tmp." + std::to_string(::getpid());
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << table->Serialize();
    }
    if (std::rename(tmp.c_str(), result.cache_path.c_str()) != 0) std::remove(tmp.c_str());
  }
  result.table = std::move(table);
  return result;
}

}  // namespace prune::engine
