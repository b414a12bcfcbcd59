// Tests of the search strategies (src/search): determinism per seed, hard
// constraint, checkpoint / resume equality, cancellation, scorer equivalence
// with real surgery, and the RunPruneJob integration.
#include "search/search.h"

#include <gtest/gtest.h>
#include <torch/script.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "analysis.h"
#include "dataset.h"
#include "engine_error.h"
#include "evaluate.h"
#include "latency_table_builder.h"
#include "prune/engine/job.h"
#include "search/pruning_net.h"
#include "search/scorer.h"
#include "search/strategies.h"
#include "surgery.h"

namespace prune::engine::search {
namespace {

std::string DataPath(const std::string& name) {
  const char* dir = std::getenv("PRUNE_TEST_DATA_DIR");
  return std::string(dir ? dir : "test_models") + "/" + name;
}

std::string SearchDataPath(const std::string& name) {
  const char* dir = std::getenv("PRUNE_SEARCH_TEST_DATA_DIR");
  return std::string(dir ? dir : "search_models") + "/" + name;
}

const std::vector<int64_t> kShape = {1, 1, 28, 28};

struct Model {
  torch::jit::Module module;
  ModelAnalysis analysis;
};

const Model& Residual() {
  static const Model* m = [] {
    auto* model = new Model;
    model->module = torch::jit::load(DataPath("residual_cnn.pt"));
    model->module.eval();
    model->analysis = AnalyzeModel(model->module, kShape);
    return model;
  }();
  return *m;
}

// Deterministic, instant stand-in for accuracy: groups differ in sensitivity.
class SyntheticScorer : public CandidateScorer {
 public:
  explicit SyntheticScorer(const ModelAnalysis& analysis) : analysis_(analysis) {}
  double Score(const KeepCounts& keep, const CancelToken&) override {
    ++calls;
    double s = 1.0;
    for (const auto& g : analysis_.groups) {
      double lost = 1.0 - static_cast<double>(keep[g.id]) / static_cast<double>(g.channels);
      s -= (0.1 + 0.15 * (g.id % 3)) * lost * lost;
    }
    return s;
  }
  int calls = 0;

 private:
  const ModelAnalysis& analysis_;
};

SearchOptions SmallOptions(const std::string& strategy, uint64_t seed = 3) {
  SearchOptions o;
  o.strategy = strategy;
  o.target_ratio = 0.5;
  o.seed = seed;
  o.amc.warmup_episodes = 4;
  o.amc.episodes = 8;
  o.amc.hidden = 32;
  o.amc.batch_size = 16;
  o.evo.generations = 3;
  o.evo.population = 8;
  o.evo.parents = 3;
  o.autoslim.step_fraction = 0.25;
  o.checkpoint_every = 0;
  return o;
}

SearchResult RunOnce(const SearchOptions& options) {
  SyntheticScorer scorer(Residual().analysis);
  Search search(Residual().analysis, options, &scorer);
  CancelToken cancel;
  return search.Run(cancel, nullptr, nullptr);
}

class Strategies : public ::testing::TestWithParam<std::string> {};

TEST_P(Strategies, SameSeedSameWidths) {
  SearchResult a = RunOnce(SmallOptions(GetParam()));
  SearchResult b = RunOnce(SmallOptions(GetParam()));
  EXPECT_EQ(a.keep, b.keep);
  ASSERT_EQ(a.candidates.size(), b.candidates.size());
  for (size_t i = 0; i < a.candidates.size(); ++i) {
    EXPECT_EQ(a.candidates[i].keep, b.candidates[i].keep) << i;
  }
  EXPECT_GT(a.evaluations, 1);
}

TEST_P(Strategies, MeetsHardConstraint) {
  const ModelAnalysis& analysis = Residual().analysis;
  const ModelCost full = ComputeCost(analysis, FullKeepCounts(analysis));
  for (const std::string kind : {"flops", "params"}) {
    for (double ratio : {0.5, 0.25}) {
      SearchOptions o = SmallOptions(GetParam());
      o.target_kind = kind;
      o.target_ratio = ratio;
      SearchResult r = RunOnce(o);
      ModelCost cost = ComputeCost(analysis, r.keep);
      double got = kind == "flops" ? static_cast<double>(cost.macs) / full.macs
                                   : static_cast<double>(cost.params) / full.params;
      EXPECT_LE(got, ratio) << kind << " " << ratio;
      EXPECT_TRUE(r.best.feasible);
      bool any_pareto = false;
      for (const auto& c : r.candidates) any_pareto |= c.pareto;
      EXPECT_TRUE(any_pareto);
    }
  }
}

TEST_P(Strategies, BudgetCapsEvaluations) {
  SearchOptions o = SmallOptions(GetParam());
  o.max_evaluations = 3;
  SearchResult r = RunOnce(o);
  EXPECT_LE(r.evaluations, 4);  // + one projected candidate when none was feasible
  EXPECT_EQ(r.stopped_by, "max_evaluations");
  EXPECT_TRUE(r.best.feasible);
}

TEST_P(Strategies, ResumeFromCheckpointGivesSameResult) {
  SearchOptions o = SmallOptions(GetParam());
  SearchResult uninterrupted = RunOnce(o);

  o.checkpoint_every = 3;
  std::string state;
  SyntheticScorer scorer(Residual().analysis);
  {
    Search first(Residual().analysis, o, &scorer);
    CancelToken cancel;
    try {
      first.Run(cancel, nullptr, [&](const std::string& s) {
        state = s;
        cancel.Cancel();  // "killed" right after the checkpoint was stored
      });
      FAIL() << "expected CANCELLED";
    } catch (const EngineError& e) {
      EXPECT_EQ(e.code(), "CANCELLED");
    }
  }
  ASSERT_FALSE(state.empty());
  int calls_before = scorer.calls;
  Search resumed(Residual().analysis, o, &scorer);
  resumed.Restore(state);
  CancelToken cancel;
  SearchResult r = resumed.Run(cancel, nullptr, nullptr);
  EXPECT_EQ(r.keep, uninterrupted.keep);
  EXPECT_EQ(r.best.score, uninterrupted.best.score);
  ASSERT_EQ(r.candidates.size(), uninterrupted.candidates.size());
  for (size_t i = 0; i < r.candidates.size(); ++i) {
    EXPECT_EQ(r.candidates[i].keep, uninterrupted.candidates[i].keep) << i;
    EXPECT_EQ(r.candidates[i].pareto, uninterrupted.candidates[i].pareto) << i;
  }
  // Restored candidates were not evaluated again.
  EXPECT_EQ(scorer.calls - calls_before + 3, static_cast<int>(r.candidates.size()));
}

TEST_P(Strategies, CancelStopsWithinOneEvaluation) {
  SearchOptions o = SmallOptions(GetParam());
  SyntheticScorer scorer(Residual().analysis);
  Search search(Residual().analysis, o, &scorer);
  CancelToken cancel;
  try {
    search.Run(
        cancel,
        [&](const SearchProgress& p) {
          EXPECT_FALSE(p.message.empty());
          if (scorer.calls >= 2) cancel.Cancel();
        },
        nullptr);
    FAIL() << "expected CANCELLED";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), "CANCELLED");
  }
  EXPECT_LE(scorer.calls, 2);
}

// A measured latency table of the residual model (cheap settings: these tests
// check that the searches honour the prediction, not its precision).
std::shared_ptr<const LatencyTable> ResidualLatencyTable() {
  static const auto table = [] {
    LatencyTableOptions o;
    o.batch_size = 2;
    o.grid_points = 3;
    o.layer_runs = 1;
    o.model_runs = 1;
    CancelToken cancel;
    torch::jit::Module module = Residual().module;  // a handle: measuring does not change it
    return std::make_shared<const LatencyTable>(
        BuildLatencyTable(module, Residual().analysis, o, cancel));
  }();
  return table;
}

// Latency targets between the smallest predicted latency (one channel per
// unit) and the full model's, so that they are reachable whatever the
// machine measured.
std::vector<double> ReachableLatencyRatios(const CostModel& cost) {
  KeepCounts smallest = FullKeepCounts(Residual().analysis);
  for (const Unit& u : DecisionUnits(Residual().analysis)) smallest[u.group] = 1;
  const double floor = cost.Cost(smallest) / cost.FullCost();
  return {floor + 0.6 * (1 - floor), floor + 0.3 * (1 - floor)};
}

TEST_P(Strategies, MeetsLatencyTargetByThePrediction) {
  const ModelAnalysis& analysis = Residual().analysis;
  const CostModel cost(analysis, ResidualLatencyTable());
  for (double ratio : ReachableLatencyRatios(cost)) {
    SearchOptions o = SmallOptions(GetParam());
    o.target_kind = "latency";
    o.target_ratio = ratio;
    SyntheticScorer scorer(analysis);
    Search search(analysis, o, &scorer, cost);
    CancelToken cancel;
    SearchResult r = search.Run(cancel, nullptr, nullptr);
    EXPECT_LE(cost.Cost(r.keep), ratio * cost.FullCost()) << ratio;
    EXPECT_TRUE(r.best.feasible);
    EXPECT_DOUBLE_EQ(r.full_cost, cost.FullCost());
    bool any_pareto = false;
    for (const Candidate& c : r.candidates) {
      EXPECT_DOUBLE_EQ(c.cost, cost.Cost(c.keep));
      EXPECT_EQ(c.feasible, c.cost <= ratio * cost.FullCost());
      any_pareto |= c.pareto;
    }
    EXPECT_TRUE(any_pareto);
  }
}

TEST_P(Strategies, LatencyTargetResumesFromCheckpoint) {
  const ModelAnalysis& analysis = Residual().analysis;
  const CostModel cost(analysis, ResidualLatencyTable());
  SearchOptions o = SmallOptions(GetParam());
  o.target_kind = "latency";
  o.target_ratio = ReachableLatencyRatios(cost)[0];
  SyntheticScorer scorer(analysis);
  CancelToken cancel;
  SearchResult uninterrupted = Search(analysis, o, &scorer, cost).Run(cancel, nullptr, nullptr);
  o.checkpoint_every = 3;
  std::string state;
  {
    Search first(analysis, o, &scorer, cost);
    CancelToken stop;
    EXPECT_THROW(first.Run(stop, nullptr,
                           [&](const std::string& s) {
                             state = s;
                             stop.Cancel();
                           }),
                 EngineError);
  }
  ASSERT_FALSE(state.empty());
  Search resumed(analysis, o, &scorer, cost);
  resumed.Restore(state);
  SearchResult r = resumed.Run(cancel, nullptr, nullptr);
  EXPECT_EQ(r.keep, uninterrupted.keep);
  ASSERT_EQ(r.candidates.size(), uninterrupted.candidates.size());
  for (size_t i = 0; i < r.candidates.size(); ++i) {
    EXPECT_EQ(r.candidates[i].pareto, uninterrupted.candidates[i].pareto) << i;
  }
  // A flops search cannot resume a latency checkpoint.
  SearchOptions flops = o;
  flops.target_kind = "flops";
  Search other(analysis, flops, &scorer);
  EXPECT_THROW(other.Restore(state), EngineError);
}

// A depthwise conv is timed with groups == its kept channels along one axis
// (its input follows its output); a wrong weight shape or groups would make
// the convolution throw.
TEST(Search, LatencyTableTimesDepthwiseConvsAlongOneAxis) {
  torch::jit::Module module = torch::jit::load(SearchDataPath("dw_cnn.pt"));
  module.eval();
  ModelAnalysis analysis = AnalyzeModel(module, kShape);
  LatencyTableOptions o;
  o.batch_size = 2;
  o.grid_points = 4;
  o.layer_runs = 1;
  o.model_runs = 1;
  CancelToken cancel;
  LatencyTable table = BuildLatencyTable(module, analysis, o, cancel);
  bool found = false;
  for (const LayerLatencyGrid& g : table.layers) {
    if (analysis.layers[g.layer].name != "dw") continue;
    found = true;
    EXPECT_TRUE(analysis.layers[g.layer].depthwise);
    EXPECT_EQ(g.in_counts, std::vector<int64_t>{12});
    EXPECT_EQ(g.out_counts, (std::vector<int64_t>{3, 6, 9, 12}));
    for (double ms : g.ms) EXPECT_GT(ms, 0.0);
  }
  EXPECT_TRUE(found);
}

TEST(Search, LatencyTargetNeedsItsCostModel) {
  SearchOptions o = SmallOptions("autoslim");
  o.target_kind = "latency";
  SyntheticScorer scorer(Residual().analysis);
  EXPECT_THROW(Search(Residual().analysis, o, &scorer), EngineError);
  o.target_kind = "flops";
  const CostModel latency(Residual().analysis, ResidualLatencyTable());
  EXPECT_THROW(Search(Residual().analysis, o, &scorer, latency), EngineError);
}

INSTANTIATE_TEST_SUITE_P(Search, Strategies, ::testing::Values("autoslim", "amc", "metapruning"));

int64_t Macs(const KeepCounts& keep) { return ComputeCost(Residual().analysis, keep).macs; }

// With a floor the answer is the cheapest feasible candidate that keeps it.
TEST_P(Strategies, AccuracyFloorChoosesTheCheapestCandidateThatKeepsIt) {
  SearchOptions plain = SmallOptions(GetParam());
  const SearchResult without = RunOnce(plain);
  SearchOptions floored = plain;
  floored.accuracy_floor = without.best.score - 0.05;
  const SearchResult with = RunOnce(floored);
  EXPECT_TRUE(with.floor_met);
  EXPECT_GE(with.best.score, floored.accuracy_floor);
  EXPECT_TRUE(with.best.feasible);
  EXPECT_LE(with.best.macs, without.best.macs);
  for (const Candidate& c : with.candidates) {
    if (c.feasible && c.score >= floored.accuracy_floor) EXPECT_GE(c.macs, with.best.macs);
  }
  // An unreachable floor: reported, and the best score is kept instead.
  floored.accuracy_floor = 0.9999;
  const SearchResult unreachable = RunOnce(floored);
  EXPECT_FALSE(unreachable.floor_met);
  for (const Candidate& c : unreachable.candidates) {
    if (c.feasible) EXPECT_LE(c.score, unreachable.best.score);
  }
}

// AutoSlim keeps slimming past the target while the floor holds.
// AMC's error_log_flops reward is -error * log(resource) with the target's
// resource: exactly -error * log(MACs) for a FLOPs target, and for a latency
// target (ms, possibly below 1) still higher for lower error and lower cost.
TEST(Search, AmcRewardUsesTheTargetsResource) {
  const double full_macs = 4e6;
  EXPECT_DOUBLE_EQ(AmcReward("acc", 0.7, 1e6, full_macs, full_macs), 0.7);
  EXPECT_NEAR(AmcReward("error_log_flops", 0.7, 1e6, full_macs, full_macs), -0.3 * std::log(1e6),
              1e-12);
  // Latency in ms: full 0.8 ms, candidates at 0.4 and 0.2 ms.
  const double half = AmcReward("error_log_flops", 0.7, 0.4, 0.8, full_macs);
  const double quarter = AmcReward("error_log_flops", 0.7, 0.2, 0.8, full_macs);
  const double worse = AmcReward("error_log_flops", 0.6, 0.4, 0.8, full_macs);
  EXPECT_NEAR(half, -0.3 * std::log(2e6), 1e-12);
  EXPECT_GT(quarter, half);  // cheaper at the same accuracy
  EXPECT_GT(half, worse);    // more accurate at the same cost
  EXPECT_LT(half, 0.0);
}

TEST(Search, AutoSlimWithAFloorGoesBelowTheTarget) {
  SearchOptions o = SmallOptions("autoslim");
  o.max_evaluations = 2000;
  const SearchResult at_target = RunOnce(o);
  o.accuracy_floor = at_target.best.score - 0.05;
  const SearchResult slimmer = RunOnce(o);
  EXPECT_LT(Macs(slimmer.keep), Macs(at_target.keep));
  EXPECT_GE(slimmer.best.score, o.accuracy_floor);
}

TEST(Search, RejectsForeignCheckpoint) {
  SearchOptions o = SmallOptions("amc");
  SyntheticScorer scorer(Residual().analysis);
  Search amc(Residual().analysis, o, &scorer);
  std::string state = amc.Checkpoint();
  Search evo(Residual().analysis, SmallOptions("metapruning"), &scorer);
  try {
    evo.Restore(state);
    FAIL() << "expected INVALID_ARGUMENT";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), "INVALID_ARGUMENT");
  }
  try {
    evo.Restore("garbage");
    FAIL() << "expected INVALID_ARGUMENT";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), "INVALID_ARGUMENT");
  }
}

TEST(Search, WallTimeBudgetStopsAndStaysFeasible) {
  SearchOptions o = SmallOptions("metapruning");
  o.max_seconds = 1e-9;
  SearchResult r = RunOnce(o);
  EXPECT_EQ(r.stopped_by, "max_seconds");
  EXPECT_LE(r.evaluations, 2);
  EXPECT_TRUE(r.best.feasible);
}

TEST(Search, MarkParetoFlagsTheFront) {
  std::vector<Candidate> c(4);
  c[0].cost = 10, c[0].score = 0.9;
  c[1].cost = 5, c[1].score = 0.8;
  c[2].cost = 6, c[2].score = 0.7;  // dominated by c[1]
  c[3].cost = 2, c[3].score = 0.1;
  MarkPareto(c);
  EXPECT_TRUE(c[0].pareto);
  EXPECT_TRUE(c[1].pareto);
  EXPECT_FALSE(c[2].pareto);
  EXPECT_TRUE(c[3].pareto);
}

// The in-place scorer must give what real surgery + recalibration gives.
TEST(SearchScorer, MatchesSurgeryAndIsOrderIndependent) {
  torch::jit::Module module = torch::jit::load(DataPath("plain_cnn.pt"));
  module.eval();
  ModelAnalysis analysis = AnalyzeModel(module, kShape);
  DatasetSplit split = SplitDataset(LoadDataset(DataPath("dataset.pt"), kShape));
  ScorerOptions options;
  options.batch_size = 8;
  options.calibration_batches = 2;
  InheritedWeightScorer scorer(module, analysis, split.train, split.eval, options, torch::kCPU);
  CancelToken cancel;
  KeepCounts a = FullKeepCounts(analysis);
  KeepCounts b = a;
  for (const auto& g : analysis.groups) {
    if (g.prunable) b[g.id] = g.channels / 3;
  }
  double sa = scorer.Score(a, cancel);
  double sb = scorer.Score(b, cancel);
  EXPECT_EQ(scorer.Score(a, cancel), sa);
  EXPECT_EQ(scorer.Score(b, cancel), sb);

  for (const auto& [keep, score] : {std::make_pair(a, sa), std::make_pair(b, sb)}) {
    torch::jit::Module pruned =
        ApplyPlan(module, analysis, SelectChannels(module, analysis, keep, "l1"));
    RecalibrateBatchNorm(pruned, analysis, split.train, 8, 2, torch::kCPU, cancel);
    EXPECT_DOUBLE_EQ(Top1Accuracy(pruned, split.eval, 8, torch::kCPU, cancel), score);
    // Same logits too, not just the same accuracy.
    torch::NoGradGuard no_grad;
    torch::Tensor x = split.eval.inputs;
    torch::Tensor want = pruned.forward({x}).toTensor();
    scorer.Score(keep, cancel);
    torch::Tensor got = scorer.module().forward({x}).toTensor();
    EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-6));
  }
}

// Tensors read after a cat (offsets) take the fast path, depthwise convs the
// surgery fallback: both must match real surgery, and searches stay feasible.
TEST(SearchScorer, MatchesSurgeryWithCatAndDepthwise) {
  DatasetSplit split = SplitDataset(LoadDataset(DataPath("dataset.pt"), kShape));
  for (const std::string name : {"cat_cnn.pt", "dw_cnn.pt"}) {
    torch::jit::Module module = torch::jit::load(SearchDataPath(name));
    module.eval();
    ModelAnalysis analysis = AnalyzeModel(module, kShape);
    ScorerOptions options;
    options.batch_size = 8;
    options.calibration_batches = 2;
    InheritedWeightScorer scorer(module, analysis, split.train, split.eval, options, torch::kCPU);
    CancelToken cancel;
    KeepCounts keep = FullKeepCounts(analysis);
    for (const Unit& u : DecisionUnits(analysis)) keep[u.group] = (u.channels * 2) / 3;
    torch::jit::Module pruned =
        ApplyPlan(module, analysis, SelectChannels(module, analysis, keep, "l1"));
    RecalibrateBatchNorm(pruned, analysis, split.train, 8, 2, torch::kCPU, cancel);
    double score = scorer.Score(keep, cancel);
    EXPECT_DOUBLE_EQ(Top1Accuracy(pruned, split.eval, 8, torch::kCPU, cancel), score) << name;
    torch::NoGradGuard no_grad;
    torch::Tensor want = pruned.forward({split.eval.inputs}).toTensor();
    torch::Tensor got = scorer.module().forward({split.eval.inputs}).toTensor();
    EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-6)) << name;

    SearchOptions o = SmallOptions("amc");
    o.max_evaluations = 6;
    Search search(analysis, o, &scorer);
    SearchResult r = search.Run(cancel, nullptr, nullptr);
    EXPECT_TRUE(r.best.feasible) << name;
  }
}

TEST(SearchScorer, CancelStopsARealSearchQuickly) {
  const Model& m = Residual();
  DatasetSplit split = SplitDataset(LoadDataset(DataPath("dataset.pt"), kShape));
  ScorerOptions options;
  options.batch_size = 8;
  options.calibration_batches = 2;
  InheritedWeightScorer scorer(m.module, m.analysis, split.train, split.eval, options, torch::kCPU);
  SearchOptions o = SmallOptions("metapruning");
  o.evo.generations = 1000;
  Search search(m.analysis, o, &scorer);
  CancelToken cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel.Cancel();
  });
  auto start = std::chrono::steady_clock::now();
  std::string code;
  try {
    search.Run(cancel, nullptr, nullptr);
  } catch (const EngineError& e) {
    code = e.code();
  } catch (const std::exception& e) {
    code = e.what();
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  canceller.join();
  EXPECT_EQ(code, "CANCELLED");
  EXPECT_LT(seconds, 2.5);
}

// Same seed, real scores (inherited weights + BN recalibration): same widths.
TEST(SearchScorer, SameSeedSameWidthsWithRealScores) {
  const Model& m = Residual();
  DatasetSplit split = SplitDataset(LoadDataset(DataPath("dataset.pt"), kShape));
  ScorerOptions options;
  options.batch_size = 8;
  options.calibration_batches = 2;
  for (const std::string strategy : {"autoslim", "amc", "metapruning"}) {
    std::vector<KeepCounts> chosen;
    for (int run = 0; run < 2; ++run) {
      InheritedWeightScorer scorer(m.module, m.analysis, split.train, split.eval, options,
                                   torch::kCPU);
      SearchOptions o = SmallOptions(strategy);
      o.max_evaluations = 10;
      Search search(m.analysis, o, &scorer);
      CancelToken cancel;
      chosen.push_back(search.Run(cancel, nullptr, nullptr).keep);
    }
    EXPECT_EQ(chosen[0], chosen[1]) << strategy;
  }
}

// An untrained PruningNet generates exactly the original weights; a short
// meta-training lowers the loss and keeps scoring deterministic.
TEST(SearchScorer, PruningNetStartsAtInheritanceAndTrains) {
  const Model& m = Residual();
  DatasetSplit split = SplitDataset(LoadDataset(DataPath("dataset.pt"), kShape));
  ScorerOptions options;
  options.batch_size = 8;
  options.calibration_batches = 2;
  InheritedWeightScorer inherited(m.module, m.analysis, split.train, split.eval, options,
                                  torch::kCPU);
  PruningNetOptions net_options;
  net_options.steps = 15;
  PruningNet net(m.module, m.analysis, net_options, 5);
  options.weight_source = [&net](const std::string& p, const std::string& n, const KeepCounts& k) {
    return net.Generate(p, n, k);
  };
  InheritedWeightScorer generated(m.module, m.analysis, split.train, split.eval, options,
                                  torch::kCPU);
  CancelToken cancel;
  KeepCounts keep = FullKeepCounts(m.analysis);
  for (const Unit& u : DecisionUnits(m.analysis)) keep[u.group] = u.channels / 2;
  EXPECT_EQ(generated.Score(keep, cancel), inherited.Score(keep, cancel));
  double loss = net.MetaTrain(generated, DecisionUnits(m.analysis), split.train, 8, cancel);
  EXPECT_TRUE(std::isfinite(loss));
  double a = generated.Score(keep, cancel);
  EXPECT_EQ(generated.Score(keep, cancel), a);
}

JobSpec SearchSpec(const std::string& strategy) {
  JobSpec spec;
  spec.model_path = DataPath("residual_cnn.pt");
  spec.dataset_path = DataPath("dataset.pt");
  spec.output_model_path = ::testing::TempDir() + "/search_" + strategy + ".pt";
  spec.input_shape = kShape;
  spec.strategy = strategy;
  spec.target_ratio = 0.5;
  spec.batch_size = 8;
  spec.calibration_batches = 2;
  spec.search_calibration_batches = 2;
  spec.latency_batch_size = 0;
  spec.device = "cpu";
  spec.seed = 11;
  spec.search_max_evaluations = 12;
  spec.amc_warmup_episodes = 4;
  spec.amc_episodes = 6;
  spec.evo_generations = 2;
  spec.evo_population = 6;
  return spec;
}

TEST(SearchJob, ReportsSearchAndCandidates) {
  for (const std::string strategy : {"autoslim", "amc", "metapruning"}) {
    JobSpec spec = SearchSpec(strategy);
    std::vector<std::string> messages;
    CancelToken cancel;
    JobOutcome outcome;
    Status status = RunPruneJob(
        spec,
        [&](const Progress& p) {
          if (p.stage == "search") messages.push_back(p.message);
        },
        cancel, &outcome);
    ASSERT_TRUE(status.ok()) << strategy << ": " << status.ToString();
    EXPECT_LE(outcome.macs_ratio, 0.5) << strategy;
    EXPECT_FALSE(messages.empty()) << strategy;
    EXPECT_NE(outcome.report_json.find("\"search\":{"), std::string::npos);
    EXPECT_NE(outcome.report_json.find("\"candidates\":["), std::string::npos);
    EXPECT_NE(outcome.report_json.find("\"pareto\":true"), std::string::npos);
  }
}

TEST(SearchJob, MetaPruningWithPruningNet) {
  JobSpec spec = SearchSpec("metapruning");
  spec.metapruning_mode = "pruningnet";
  spec.pruningnet_steps = 10;
  CancelToken cancel;
  JobOutcome outcome;
  Status status = RunPruneJob(spec, nullptr, cancel, &outcome);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_LE(outcome.macs_ratio, 0.5);
  EXPECT_NE(outcome.report_json.find("\"pruningnet\":{"), std::string::npos);
  EXPECT_NE(outcome.report_json.find("\"weights\":\""), std::string::npos);
}

TEST(SearchJob, ResumedJobMatchesUninterrupted) {
  JobSpec spec = SearchSpec("amc");
  CancelToken cancel;
  JobOutcome whole;
  ASSERT_TRUE(RunPruneJob(spec, nullptr, cancel, &whole).ok());

  JobSpec first = spec;
  first.search_checkpoint_every = 4;
  std::string state;
  CancelToken kill;
  first.on_checkpoint = [&](const std::string& s) {
    state = s;
    kill.Cancel();
  };
  JobOutcome ignored;
  EXPECT_EQ(RunPruneJob(first, nullptr, kill, &ignored).code, "CANCELLED");
  ASSERT_FALSE(state.empty());

  JobSpec second = spec;
  second.search_resume_state = state;
  JobOutcome resumed;
  ASSERT_TRUE(RunPruneJob(second, nullptr, cancel, &resumed).ok());
  auto keep_of = [](const std::string& report) {
    auto at = report.find("\"keep\":[", report.find("\"search\":{"));
    return report.substr(at, report.find(']', at) - at);
  };
  EXPECT_EQ(keep_of(resumed.report_json), keep_of(whole.report_json));
  EXPECT_EQ(resumed.macs_ratio, whole.macs_ratio);
}

}  // namespace
}  // namespace prune::engine::search
