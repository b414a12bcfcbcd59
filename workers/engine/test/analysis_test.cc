#include "analysis.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "measure.h"
#include "test_support.h"

namespace prune::engine {
namespace {

using testing::LoadTestModel;

const PruningGroup* GroupProducedBy(const ModelAnalysis& a, const std::string& module) {
  for (const auto& g : a.groups) {
    if (std::find(g.producers.begin(), g.producers.end(), module) != g.producers.end()) return &g;
  }
  return nullptr;
}

bool HasMember(const PruningGroup& g, const std::string& module, const std::string& tensor,
               int64_t dim, int64_t block = 1) {
  for (const auto& m : g.members) {
    if (m.module_path == module && m.tensor_name == tensor && m.dim == dim && m.block == block) {
      return true;
    }
  }
  return false;
}

TEST(Analysis, PlainCnnGroupsAndMacs) {
  ModelAnalysis a = AnalyzeModel(LoadTestModel("plain_cnn.pt"), {1, 1, 28, 28});
  ASSERT_EQ(a.groups.size(), 3u);
  const PruningGroup* g1 = GroupProducedBy(a, "conv1");
  ASSERT_NE(g1, nullptr);
  EXPECT_TRUE(g1->prunable) << g1->reason;
  EXPECT_EQ(g1->channels, 16);
  EXPECT_TRUE(HasMember(*g1, "conv1", "weight", 0));
  EXPECT_TRUE(HasMember(*g1, "conv1", "bias", 0));
  for (const char* t : {"weight", "bias", "running_mean", "running_var"}) {
    EXPECT_TRUE(HasMember(*g1, "bn1", t, 0)) << t;
  }
  EXPECT_TRUE(HasMember(*g1, "conv2", "weight", 1));

  const PruningGroup* g2 = GroupProducedBy(a, "conv2");
  ASSERT_NE(g2, nullptr);
  EXPECT_TRUE(g2->prunable) << g2->reason;
  EXPECT_TRUE(HasMember(*g2, "fc", "weight", 1, /*block=*/49));

  const PruningGroup* out = GroupProducedBy(a, "fc");
  ASSERT_NE(out, nullptr);
  EXPECT_FALSE(out->prunable);
  EXPECT_NE(out->reason.find("model output"), std::string::npos) << out->reason;

  ModelCost cost = ComputeCost(a, FullKeepCounts(a));
  EXPECT_EQ(cost.macs, 28 * 28 * 16 * 9 + 14 * 14 * 32 * 16 * 9 + 32 * 49 * 10);
  int64_t params = 16 * 9 + 16 + 2 * 16 + 32 * 16 * 9 + 32 + 2 * 32 + 1568 * 10 + 10;
  EXPECT_EQ(cost.params, params);
  EXPECT_EQ(a.total_params, params);
}

TEST(Analysis, ResidualAddCouplesChannels) {
  ModelAnalysis a = AnalyzeModel(LoadTestModel("residual_cnn.pt"), {1, 1, 28, 28});
  const PruningGroup* stem = GroupProducedBy(a, "conv1");
  ASSERT_NE(stem, nullptr);
  EXPECT_EQ(stem, GroupProducedBy(a, "layer1.0.conv2"));
  EXPECT_TRUE(stem->prunable) << stem->reason;
  EXPECT_TRUE(HasMember(*stem, "layer2.0.downsample.0", "weight", 1));
  EXPECT_TRUE(HasMember(*stem, "layer2.0.conv1", "weight", 1));

  const PruningGroup* stage2 = GroupProducedBy(a, "layer2.0.conv2");
  ASSERT_NE(stage2, nullptr);
  EXPECT_EQ(stage2, GroupProducedBy(a, "layer2.0.downsample.0"));
  EXPECT_TRUE(HasMember(*stage2, "layer2.0.downsample.1", "running_var", 0));
  EXPECT_TRUE(HasMember(*stage2, "fc", "weight", 1, /*block=*/1));
  EXPECT_NE(stage2, stem);

  const PruningGroup* inner = GroupProducedBy(a, "layer1.0.conv1");
  ASSERT_NE(inner, nullptr);
  EXPECT_NE(inner, stem);
  EXPECT_TRUE(inner->prunable);

  const PruningGroup* out = GroupProducedBy(a, "fc");
  ASSERT_NE(out, nullptr);
  EXPECT_FALSE(out->prunable);
}

TEST(Analysis, ViewFixesChannelsWithReason) {
  ModelAnalysis a = AnalyzeModel(LoadTestModel("view_cnn.pt"), {1, 1, 28, 28});
  const PruningGroup* g2 = GroupProducedBy(a, "conv2");
  ASSERT_NE(g2, nullptr);
  EXPECT_FALSE(g2->prunable);
  EXPECT_NE(g2->reason.find("aten::view"), std::string::npos) << g2->reason;
  EXPECT_NE(g2->reason.find(".py:"), std::string::npos) << g2->reason;
  EXPECT_TRUE(GroupProducedBy(a, "conv1")->prunable);
}

TEST(Analysis, DoesNotChangeTheModel) {
  auto module = LoadTestModel("plain_cnn.pt");
  module.train();
  auto before = module.attr("bn1").toModule().attr("running_mean").toTensor().clone();
  AnalyzeModel(module, {2, 1, 28, 28});
  EXPECT_TRUE(module.is_training());
  EXPECT_TRUE(torch::equal(before, module.attr("bn1").toModule().attr("running_mean").toTensor()));
}

}  // namespace
}  // namespace prune::engine
