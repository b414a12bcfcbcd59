// Tests of the per-layer latency table (latency_table*.cc, layer_timing.cc,
// cost_model.cc) and of latency targets in the ranking baselines. No test
// compares a time with a threshold: they check what was measured, reused,
// interpolated and chosen, which does not depend on the machine's load.
#include "latency_table.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "analysis.h"
#include "cost_model.h"
#include "engine_error.h"
#include "global_strategy.h"
#include "importance.h"
#include "latency_table_builder.h"
#include "layer_timing.h"
#include "test_support.h"
#include "uniform_strategy.h"

namespace prune::engine {
namespace {

using testing::IsEmptyDirectory;
using testing::LoadTestModel;
using testing::PathExists;
using testing::RemoveTree;
using testing::TempPath;

struct Loaded {
  torch::jit::Module module;
  ModelAnalysis analysis;
};

Loaded Load(const std::string& name, const std::vector<int64_t>& shape) {
  Loaded l{LoadTestModel(name), {}};
  l.module.eval();
  l.analysis = AnalyzeModel(l.module, shape);
  return l;
}

Loaded& Residual() {
  static auto* m = new Loaded(Load("residual_cnn.pt", {1, 1, 28, 28}));
  return *m;
}

// Cheap settings: the tests check bookkeeping, not precision.
LatencyTableOptions QuickOptions() { return testing::QuickLatencyTableOptions(); }

std::string FreshDir(const std::string& name) {
  std::string dir = TempPath(name);
  RemoveTree(dir);
  return dir;
}

int TimedLayers(const ModelAnalysis& analysis) {
  int n = 0;
  for (const Layer& l : analysis.layers) n += CanTimeLayer(l) ? 1 : 0;
  return n;
}

TEST(LatencyTable, AnalysisRecordsConvGeometryFromTheGraph) {
  Loaded r = Load("resnet18.pt", {1, 3, 64, 64});
  const Layer* conv1 = nullptr;
  const Layer* fc = nullptr;
  for (const Layer& l : r.analysis.layers) {
    if (l.name == "conv1") conv1 = &l;
    if (l.name == "fc") fc = &l;
  }
  ASSERT_NE(conv1, nullptr);
  EXPECT_EQ(conv1->kernel, (std::vector<int64_t>{7, 7}));
  EXPECT_EQ(conv1->stride, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(conv1->padding, (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(conv1->dilation, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(conv1->in_shape, (std::vector<int64_t>{1, 3, 64, 64}));
  EXPECT_TRUE(CanTimeLayer(*conv1));
  ASSERT_NE(fc, nullptr);
  EXPECT_EQ(fc->in_shape, (std::vector<int64_t>{1, 512}));
  EXPECT_TRUE(CanTimeLayer(*fc));
  EXPECT_EQ(TimedLayers(r.analysis), 21);  // 20 convs + fc
}

TEST(LatencyTable, InterpolationIsExactAtGridPointsAndBilinearBetween) {
  LayerLatencyGrid g;
  g.in_counts = {2, 4, 8};
  g.out_counts = {3, 6};
  g.ms = {1, 2, 3, 5, 7, 11};  // rows: in 2, 4, 8
  for (size_t i = 0; i < g.in_counts.size(); ++i) {
    for (size_t j = 0; j < g.out_counts.size(); ++j) {
      EXPECT_DOUBLE_EQ(InterpolateMs(g, g.in_counts[i], g.out_counts[j]), g.ms[i * 2 + j]);
    }
  }
  EXPECT_DOUBLE_EQ(InterpolateMs(g, 3, 3), 2.0);              // halfway along in
  EXPECT_DOUBLE_EQ(InterpolateMs(g, 2, 4.5), 1.5);            // halfway along out
  EXPECT_DOUBLE_EQ(InterpolateMs(g, 6, 4.5), (4 + 9) / 2.0);  // centre of the top cell
  EXPECT_DOUBLE_EQ(InterpolateMs(g, 1, 1), 1.0);              // clamped below the grid
  EXPECT_DOUBLE_EQ(InterpolateMs(g, 100, 100), 11.0);         // and above it
  LayerLatencyGrid single;                                    // one axis fixed
  single.in_counts = {5};
  single.out_counts = {2, 4};
  single.ms = {10, 20};
  EXPECT_DOUBLE_EQ(InterpolateMs(single, 5, 3), 15.0);
}

TEST(LatencyTable, PredictionAddsLayersAndScaledRemainder) {
  Loaded& r = Residual();
  CancelToken cancel;
  int measurements = 0;
  LatencyTable t = BuildLatencyTable(r.module, r.analysis, QuickOptions(), cancel, &measurements);
  ASSERT_EQ(static_cast<int>(t.layers.size()), TimedLayers(r.analysis));
  ASSERT_GT(t.layers.size(), 0u);
  int points = 0;
  double layers_full = 0.0;
  for (const LayerLatencyGrid& g : t.layers) {
    points += static_cast<int>(g.ms.size());
    layers_full += g.ms.back();
    EXPECT_LE(g.in_counts.size(), 3u);
    EXPECT_LE(g.out_counts.size(), 3u);
    for (double ms : g.ms) EXPECT_GT(ms, 0.0);
  }
  EXPECT_EQ(points, measurements);
  EXPECT_GT(t.model_ms, 0.0);
  EXPECT_DOUBLE_EQ(t.remainder_ms, std::max(0.0, t.model_ms - layers_full));
  const KeepCounts full = FullKeepCounts(r.analysis);
  EXPECT_NEAR(t.PredictMs(r.analysis, full), layers_full + t.remainder_ms, 1e-9);

  // Any assignment predicts within the range its grid cells span.
  KeepCounts half = full;
  for (const auto& g : r.analysis.groups) {
    if (g.prunable) half[g.id] = std::max<int64_t>(1, g.channels / 2);
  }
  double lo = 0.0;
  double hi = t.remainder_ms;
  for (const LayerLatencyGrid& g : t.layers) {
    lo += *std::min_element(g.ms.begin(), g.ms.end());
    hi += *std::max_element(g.ms.begin(), g.ms.end());
  }
  double predicted = t.PredictMs(r.analysis, half);
  EXPECT_GE(predicted, lo);
  EXPECT_LE(predicted, hi);
}

// A quarter of every width is much faster than the full model by the
// prediction (ResNet-18: about 1/16 of the MACs): a sanity check of the whole
// measuring path whose margin no machine noise closes.
TEST(LatencyTable, NarrowerModelIsPredictedFaster) {
  Loaded r = Load("resnet18.pt", {1, 3, 64, 64});
  LatencyTableOptions o = QuickOptions();
  o.layer_runs = 3;
  CancelToken cancel;
  LatencyTable t = BuildLatencyTable(r.module, r.analysis, o, cancel);
  KeepCounts quarter = FullKeepCounts(r.analysis);
  for (const auto& g : r.analysis.groups) {
    if (g.prunable) quarter[g.id] = std::max<int64_t>(1, g.channels / 4);
  }
  EXPECT_LT(t.PredictMs(r.analysis, quarter), t.PredictMs(r.analysis, FullKeepCounts(r.analysis)));
}

TEST(LatencyTable, SerialisationRoundTrips) {
  Loaded& r = Residual();
  CancelToken cancel;
  LatencyTable t = BuildLatencyTable(r.module, r.analysis, QuickOptions(), cancel);
  const std::string text = t.Serialize();
  LatencyTable back = LatencyTable::Parse(text);
  EXPECT_EQ(back.key, t.key);
  EXPECT_EQ(back.Serialize(), text);
  EXPECT_EQ(back.model_ms, t.model_ms);
  EXPECT_EQ(back.remainder_ms, t.remainder_ms);
  ASSERT_EQ(back.layers.size(), t.layers.size());
  for (size_t i = 0; i < t.layers.size(); ++i) {
    EXPECT_EQ(back.layers[i].layer, t.layers[i].layer);
    EXPECT_EQ(back.layers[i].in_counts, t.layers[i].in_counts);
    EXPECT_EQ(back.layers[i].out_counts, t.layers[i].out_counts);
    EXPECT_EQ(back.layers[i].ms, t.layers[i].ms);
  }
  KeepCounts keep = UniformKeepCounts(r.analysis, CostModel(r.analysis, "flops"), 0.4);
  EXPECT_EQ(back.PredictMs(r.analysis, keep), t.PredictMs(r.analysis, keep));
  EXPECT_EQ(t.key.device.rfind("cpu: ", 0), 0u) << t.key.device;
  EXPECT_FALSE(t.key.torch_version.empty());

  for (const std::string& bad :
       {std::string(""), std::string("hello"), text.substr(0, text.size() / 2),
        text.substr(0, text.rfind("end"))}) {
    EXPECT_THROW(LatencyTable::Parse(bad), EngineError) << bad;
  }
}

TEST(LatencyTable, CacheHitReusesAndKeyMismatchRebuilds) {
  Loaded& r = Residual();
  torch::jit::Module& module = r.module;
  CancelToken cancel;
  LatencyTableOptions o = QuickOptions();
  o.cache_dir = FreshDir("latency_cache");
  int measured = 0;
  o.on_measure = [&](int) { ++measured; };

  LatencyTableResult first = LoadOrBuildLatencyTable(module, r.analysis, o, cancel);
  EXPECT_FALSE(first.from_cache);
  EXPECT_GT(measured, 0);
  EXPECT_EQ(first.measurements, measured);
  EXPECT_TRUE(PathExists(first.cache_path)) << first.cache_path;

  measured = 0;
  LatencyTableResult second = LoadOrBuildLatencyTable(module, r.analysis, o, cancel);
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(measured, 0);
  EXPECT_EQ(second.table->Serialize(), first.table->Serialize());

  // Another batch size, grid or thread count (part of the CPU's device
  // description) is another table.
  LatencyTableOptions other_batch = o;
  other_batch.batch_size = 3;
  LatencyTableResult rebuilt = LoadOrBuildLatencyTable(module, r.analysis, other_batch, cancel);
  EXPECT_FALSE(rebuilt.from_cache);
  EXPECT_GT(measured, 0);
  EXPECT_NE(rebuilt.cache_path, first.cache_path);
  EXPECT_EQ(rebuilt.table->key.batch_size, 3);

  const int threads = at::get_num_threads();
  at::set_num_threads(threads == 1 ? 2 : 1);
  measured = 0;
  LatencyTableResult other_device = LoadOrBuildLatencyTable(module, r.analysis, o, cancel);
  at::set_num_threads(threads);
  EXPECT_FALSE(other_device.from_cache);
  EXPECT_GT(measured, 0);
  EXPECT_NE(other_device.table->key.device, first.table->key.device);

  // Another model (input shape, hence layer shapes) is another table.
  Loaded wider = Load("residual_cnn.pt", {1, 1, 32, 32});
  measured = 0;
  LatencyTableResult other_model = LoadOrBuildLatencyTable(wider.module, wider.analysis, o, cancel);
  EXPECT_FALSE(other_model.from_cache);
  EXPECT_GT(measured, 0);
  EXPECT_NE(other_model.table->key.model_fingerprint, first.table->key.model_fingerprint);

  // A damaged cache file is rebuilt and replaced.
  { std::ofstream(first.cache_path, std::ios::trunc) << "prune-latency-table 1\ngarbage\n"; }
  measured = 0;
  LatencyTableResult repaired = LoadOrBuildLatencyTable(module, r.analysis, o, cancel);
  EXPECT_FALSE(repaired.from_cache);
  EXPECT_GT(measured, 0);
  measured = 0;
  EXPECT_TRUE(LoadOrBuildLatencyTable(module, r.analysis, o, cancel).from_cache);
  EXPECT_EQ(measured, 0);
  RemoveTree(o.cache_dir);
}

TEST(LatencyTable, CancelStopsTheBuild) {
  Loaded& r = Residual();
  CancelToken cancel;
  LatencyTableOptions o = QuickOptions();
  o.cache_dir = FreshDir("latency_cache_cancel");
  int measured = 0;
  o.on_measure = [&](int) {
    if (++measured == 3) cancel.Cancel();
  };
  std::vector<double> progress;
  o.on_progress = [&](double f, const std::string&) { progress.push_back(f); };
  try {
    LoadOrBuildLatencyTable(r.module, r.analysis, o, cancel);
    FAIL() << "expected CANCELLED";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), "CANCELLED");
  }
  EXPECT_EQ(measured, 3);  // nothing measured after the cancel
  EXPECT_FALSE(progress.empty());
  EXPECT_FALSE(PathExists(o.cache_dir) && !IsEmptyDirectory(o.cache_dir));  // no half table cached
  RemoveTree(o.cache_dir);
}

TEST(LatencyTarget, UniformAndGlobalMeetTheTargetByThePrediction) {
  Loaded r = Load("resnet18.pt", {1, 3, 64, 64});
  CancelToken cancel;
  auto table = std::make_shared<LatencyTable>(
      BuildLatencyTable(r.module, r.analysis, QuickOptions(), cancel));
  CostModel cost(r.analysis, table);
  EXPECT_EQ(cost.kind(), "latency");
  EXPECT_DOUBLE_EQ(cost.FullCost(), table->PredictMs(r.analysis, FullKeepCounts(r.analysis)));
  auto scores = ScoreGroups(r.module, r.analysis, ImportanceOptions{});
  for (double ratio : {0.7, 0.5}) {
    KeepCounts uniform = UniformKeepCounts(r.analysis, cost, ratio);
    EXPECT_LE(cost.Cost(uniform), ratio * cost.FullCost()) << ratio;
    EXPECT_NE(uniform, FullKeepCounts(r.analysis));
    KeepCounts global = GlobalKeepCounts(r.analysis, scores, cost, ratio, WidthOptions{});
    EXPECT_LE(cost.Cost(global), ratio * cost.FullCost()) << ratio;
  }
  // The analytic kinds keep their meaning; unknown kinds stay invalid.
  EXPECT_THROW(CostModel(r.analysis, "latency"), EngineError);
  try {
    CostModel(r.analysis, "latncy");
    FAIL();
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), "INVALID_ARGUMENT");
  }
  // A table of another model is refused.
  Loaded other = Load("residual_cnn.pt", {1, 1, 28, 28});
  EXPECT_THROW(CostModel(other.analysis, table), EngineError);
}

}  // namespace
}  // namespace prune::engine
