#ifndef PRUNE_ENGINE_LATENCY_TABLE_BUILDER_H_
#define PRUNE_ENGINE_LATENCY_TABLE_BUILDER_H_

// Measures a LatencyTable (latency_table.h) for a model on a device, or reads
// it from a cache directory where an earlier job of the same model, input
// shape, batch size, device and LibTorch version left it.

#include <torch/script.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "analysis.h"
#include "latency_table.h"
#include "prune/engine/job.h"

namespace prune::engine {

struct LatencyTableOptions {
  int64_t batch_size = 32;
  // Kept counts per channel axis: 1/grid_points ... grid_points/grid_points
  // of the layer's channels (fewer when a layer has fewer channels).
  int grid_points = 8;
  int layer_runs = 5;   // timed runs per grid point (median), after one warm-up
  int model_runs = 10;  // timed runs of the whole model (median), after two warm-ups
  torch::Device device{torch::kCPU};
  std::string cache_dir;  // "" : no cache
  // Progress of a build: fraction in [0, 1] and "layer 3/21 layer1.0.conv1".
  std::function<void(double, const std::string&)> on_progress;
  // Called before each layer-alone timing (index in ModelAnalysis::layers);
  // lets tests and reports count the measurements a build made.
  std::function<void(int)> on_measure;
};

struct LatencyTableResult {
  std::shared_ptr<const LatencyTable> table;
  bool from_cache = false;
  double build_seconds = 0.0;  // 0 when read from the cache
  int measurements = 0;        // layer-alone timings made (0 from the cache)
  std::string cache_path;      // "" without a cache directory
};

// The key a table for this model and these options has: fingerprint, input
// shape, batch, device description (CUDA: the GPU's model; CPU: its model
// and LibTorch's thread count), LibTorch version, grid.
LatencyTableKey LatencyKeyFor(const ModelAnalysis& analysis, const LatencyTableOptions& options);

// Times every conv / linear layer that can be timed alone at its grid, and
// the whole `module` (already on options.device) once. Checks `cancel`
// before each measurement (EngineError CANCELLED).
LatencyTable BuildLatencyTable(torch::jit::Module& module, const ModelAnalysis& analysis,
                               const LatencyTableOptions& options, const CancelToken& cancel,
                               int* measurements = nullptr);

// The cached table for LatencyKeyFor(analysis, options) when the cache holds
// one with an equal key; otherwise builds it and stores it there (written to
// a temporary file and renamed, so concurrent workers never read half a
// table). A cache file that cannot be read or parsed is rebuilt.
LatencyTableResult LoadOrBuildLatencyTable(torch::jit::Module& module,
                                           const ModelAnalysis& analysis,
                                           const LatencyTableOptions& options,
                                           const CancelToken& cancel);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_LATENCY_TABLE_BUILDER_H_
