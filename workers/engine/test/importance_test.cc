#include "importance.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "analysis.h"
#include "dataset.h"
#include "global_strategy.h"
#include "measure.h"
#include "test_support.h"
#include "uniform_strategy.h"

namespace prune::engine {
namespace {

using testing::DataPath;
using testing::LoadTestModel;

const std::vector<int64_t> kShape{1, 1, 28, 28};

// plain_cnn with conv1 channel c scaled by (c + 1) and bn1.weight reversed:
// L1 / L2 / FPGM prefer high channels, BN scale prefers low ones.
struct Crafted {
  torch::jit::Module module;
  ModelAnalysis analysis;
  int group = -1;
};

Crafted MakeCrafted() {
  Crafted c{LoadTestModel("plain_cnn.pt"), {}, -1};
  torch::NoGradGuard no_grad;
  auto conv1 = c.module.attr("conv1").toModule();
  auto w = conv1.attr("weight").toTensor();
  torch::manual_seed(0);
  auto base = torch::randn({1, 1, 3, 3});
  for (int64_t ch = 0; ch < w.size(0); ++ch) w[ch].copy_(base[0] * static_cast<double>(ch + 1));
  auto gamma = c.module.attr("bn1").toModule().attr("weight").toTensor();
  gamma.copy_(torch::arange(gamma.size(0), 0, -1, torch::kFloat));
  c.analysis = AnalyzeModel(c.module, kShape);
  c.group = c.analysis.layers.at(0).out_group;
  return c;
}

torch::Tensor Scores(const Crafted& c, const std::string& criterion, uint64_t seed = 0,
                     const std::map<std::string, torch::Tensor>* taylor = nullptr) {
  ImportanceOptions o;
  o.criterion = criterion;
  o.seed = seed;
  o.taylor = taylor;
  return ScoreGroups(c.module, c.analysis, o).at(c.group);
}

int64_t ArgMax(const torch::Tensor& t) { return t.argmax().item<int64_t>(); }
int64_t ArgMin(const torch::Tensor& t) { return t.argmin().item<int64_t>(); }

TEST(Importance, MagnitudeCriteriaRankLargeFiltersFirst) {
  Crafted c = MakeCrafted();
  for (const char* k : {"l1", "l2"}) {
    auto s = Scores(c, k);
    EXPECT_EQ(ArgMax(s), 15) << k;
    EXPECT_EQ(ArgMin(s), 0) << k;
    // Normalised by the group mean.
    EXPECT_NEAR(s.mean().item<double>(), 1.0, 1e-9) << k;
  }
}

TEST(Importance, BnScaleRanksByGamma) {
  Crafted c = MakeCrafted();
  auto s = Scores(c, "bn_scale");
  EXPECT_EQ(ArgMax(s), 0);
  EXPECT_EQ(ArgMin(s), 15);
}

TEST(Importance, FpgmScoresFiltersNearTheMedianLowest) {
  Crafted c = MakeCrafted();
  // Filters are collinear multiples 1..16: the median is at 8.5, the extremes
  // are the least replaceable.
  auto s = Scores(c, "fpgm");
  int64_t lowest = ArgMin(s);
  EXPECT_TRUE(lowest == 7 || lowest == 8) << lowest;
  EXPECT_EQ(ArgMax(s), 15);
}

TEST(Importance, RandomIsSeeded) {
  Crafted c = MakeCrafted();
  EXPECT_TRUE(torch::equal(Scores(c, "random", 5), Scores(c, "random", 5)));
  EXPECT_FALSE(torch::equal(Scores(c, "random", 5), Scores(c, "random", 6)));
}

TEST(Importance, TaylorUsesGradients) {
  Crafted c = MakeCrafted();
  Dataset data = LoadDataset(DataPath("dataset.pt"), kShape);
  CancelToken cancel;
  auto taylor = AccumulateTaylor(c.module, data, 16, 2, torch::kCPU, cancel);
  ASSERT_TRUE(taylor.count("conv1.weight"));
  auto s = Scores(c, "taylor", 0, &taylor);
  EXPECT_EQ(s.size(0), 16);
  EXPECT_TRUE((s >= 0).all().item<bool>());
  EXPECT_GT(s.sum().item<double>(), 0);
  // Zeroing a channel's producer zeroes its Taylor score.
  {
    torch::NoGradGuard no_grad;
    auto conv1 = c.module.attr("conv1").toModule();
    conv1.attr("weight").toTensor()[3].zero_();
    conv1.attr("bias").toTensor()[3].zero_();
    c.module.attr("bn1").toModule().attr("weight").toTensor()[3].zero_();
    c.module.attr("bn1").toModule().attr("bias").toTensor()[3].zero_();
  }
  auto t2 = AccumulateTaylor(c.module, data, 16, 2, torch::kCPU, cancel);
  EXPECT_EQ(ArgMin(Scores(c, "taylor", 0, &t2)), 3);
  for (const auto& p : c.module.parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(Importance, UnknownCriterionIsRejected) {
  Crafted c = MakeCrafted();
  EXPECT_THROW(Scores(c, "magic"), std::exception);
}

TEST(GlobalStrategy, ReachesTargetWithRoundingAndMinimum) {
  for (const char* name : {"plain_cnn.pt", "residual_cnn.pt"}) {
    auto module = LoadTestModel(name);
    ModelAnalysis a = AnalyzeModel(module, kShape);
    ImportanceOptions o;
    auto scores = ScoreGroups(module, a, o);
    WidthOptions width;
    width.round_to = 4;
    width.min_channels = 4;
    KeepCounts keep = GlobalKeepCounts(a, scores, CostModel(a, "flops"), 0.5, width);
    double full = static_cast<double>(ComputeCost(a, FullKeepCounts(a)).macs);
    double ratio = static_cast<double>(ComputeCost(a, keep).macs) / full;
    EXPECT_LE(ratio, 0.5) << name;
    EXPECT_GT(ratio, 0.25) << name;  // tiny models: widths in steps of 4
    KeepCounts fine = GlobalKeepCounts(a, scores, CostModel(a, "flops"), 0.5, WidthOptions{});
    double fine_ratio = static_cast<double>(ComputeCost(a, fine).macs) / full;
    EXPECT_LE(fine_ratio, 0.5) << name;
    EXPECT_GT(fine_ratio, 0.4) << name;
    for (const auto& g : a.groups) {
      if (!g.prunable) continue;
      EXPECT_GE(keep[g.id], 4);
      EXPECT_TRUE(keep[g.id] % 4 == 0 || keep[g.id] == g.channels);
    }
    // Uniform honours the same constraints.
    KeepCounts u = UniformKeepCounts(a, CostModel(a, "flops"), 0.5, width);
    for (const auto& g : a.groups) {
      if (g.prunable) EXPECT_TRUE(u[g.id] % 4 == 0 || u[g.id] == g.channels);
    }
    EXPECT_THROW(GlobalKeepCounts(a, scores, CostModel(a, "flops"), 0.001, width), std::exception);
  }
}

}  // namespace
}  // namespace prune::engine
