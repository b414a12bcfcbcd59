#ifndef PRUNE_ENGINE_LATENCY_TABLE_H_
#define PRUNE_ENGINE_LATENCY_TABLE_H_

// A per-layer latency lookup table (NetAdapt / AMC style): each conv / linear
// layer of a model timed alone at a grid of kept (input, output) channel
// counts on one device and batch size, plus the measured latency of the
// whole model. Predicting the latency of a keep-count assignment is then a
// bilinear lookup per layer, so a search can rank thousands of candidates by
// latency without timing any of them. Building the table: latency_table_builder.h.

#include <cstdint>
#include <string>
#include <vector>

#include "analysis.h"
#include "measure.h"

namespace prune::engine {

// Everything a table depends on: a table is reused only for an equal key.
struct LatencyTableKey {
  std::string model_fingerprint;  // ModelFingerprint of the analysis
  std::vector<int64_t> input_shape;
  int64_t batch_size = 0;
  std::string device;  // "cpu: <model>, N threads" or "cuda:I: <GPU model>"
  std::string torch_version;
  int grid_points = 0;  // grid resolution per channel axis

  bool operator==(const LatencyTableKey& other) const;
  bool operator!=(const LatencyTableKey& other) const { return !(*this == other); }
  // One line per field, stable: hashed for the cache file name.
  std::string Describe() const;
};

// One layer's measured grid. `in_counts` / `out_counts` ascending; an axis the
// pruning cannot change (or the input of a depthwise conv, which follows its
// output) has a single entry, the full count.
struct LayerLatencyGrid {
  int layer = 0;  // index in ModelAnalysis::layers
  std::vector<int64_t> in_counts;
  std::vector<int64_t> out_counts;
  std::vector<double> ms;  // in_counts.size() x out_counts.size(), row-major by input count
};

struct LatencyTable {
  LatencyTableKey key;
  std::vector<LayerLatencyGrid> layers;  // the layers that could be timed alone
  double model_ms = 0.0;                 // the whole model, measured once
  // model_ms minus the timed layers at full width (clamped at 0): batch norm,
  // activations, pooling, adds, and any layer that could not be timed alone.
  double remainder_ms = 0.0;

  // Predicted latency of the model with `keep` channels per group: the sum of
  // the layers' interpolated latencies plus the remainder scaled by the
  // fraction of activation elements kept. The remainder is dominated by
  // memory-bound element-wise ops (batch norm, ReLU, residual adds, pooling)
  // whose time follows the size of the tensors they read, i.e. the kept
  // channels times their spatial size; a constant remainder would make
  // pruning look less effective than it is on models where those ops are a
  // large share (MobileNetV2 on CPU).
  double PredictMs(const ModelAnalysis& analysis, const KeepCounts& keep) const;

  // Small line-based text format (the engine has no JSON reader); Parse
  // throws EngineError INVALID_ARGUMENT on anything malformed.
  std::string Serialize() const;
  static LatencyTable Parse(const std::string& text);
};

// Bilinear interpolation of a grid at (in, out); outside the grid the nearest
// edge value is used (below the smallest measured width the prediction errs
// on the slow side, so a target met by the prediction is not met by luck).
double InterpolateMs(const LayerLatencyGrid& grid, double in, double out);

// Hex FNV-1a digest of everything about the analysed layers and groups that
// latency depends on (shapes, kernels, strides, groups, channel spaces).
std::string ModelFingerprint(const ModelAnalysis& analysis);

// Hex FNV-1a 64 digest of `text` (cache file names, fingerprints).
std::string HexDigest(const std::string& text);

// Kept activation elements (per sample) of conv / linear / batch-norm outputs.
double KeptActivations(const ModelAnalysis& analysis, const ModelCost& cost);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_LATENCY_TABLE_H_
