#include "surgery.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <functional>

#include "analysis.h"
#include "measure.h"
#include "test_support.h"
#include "uniform_strategy.h"

namespace prune::engine {
namespace {

using testing::DataPath;
using testing::LoadTestModel;
using testing::RunPython;
using testing::TempPath;

const std::vector<int64_t> kShape{1, 1, 28, 28};

torch::Tensor Forward(torch::jit::Module& m, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return m.forward({x}).toTensor();
}

TEST(Surgery, KeepingEverythingIsBitIdentical) {
  for (const char* name : {"plain_cnn.pt", "residual_cnn.pt"}) {
    auto module = LoadTestModel(name);
    ModelAnalysis a = AnalyzeModel(module, kShape);
    // Every prunable group goes through index_select with all indices.
    auto pruned = ApplyPlan(module, a, SelectChannels(module, a, FullKeepCounts(a), "l1"));
    pruned.eval();
    torch::manual_seed(1);
    auto x = torch::randn({4, 1, 28, 28});
    EXPECT_TRUE(torch::equal(Forward(module, x), Forward(pruned, x))) << name;
  }
}

class UniformPrune : public ::testing::TestWithParam<std::string> {};

TEST_P(UniformPrune, ReachesFlopsTargetAndStaysUsable) {
  auto module = LoadTestModel(GetParam());
  auto reference = module.clone();
  ModelAnalysis a = AnalyzeModel(module, kShape);
  KeepCounts keep = UniformKeepCounts(a, CostModel(a, "flops"), 0.5);
  auto pruned = ApplyPlan(module, a, SelectChannels(module, a, keep, "l1"));

  // The real cost of the pruned model (re-analysed) matches the prediction.
  ModelAnalysis after = AnalyzeModel(pruned, kShape);
  int64_t macs = ComputeCost(after, FullKeepCounts(after)).macs;
  EXPECT_EQ(macs, ComputeCost(a, keep).macs);
  double ratio = static_cast<double>(macs) / ComputeCost(a, FullKeepCounts(a)).macs;
  EXPECT_LE(ratio, 0.51);
  EXPECT_NEAR(ratio, 0.5, 0.03);

  // The input module is untouched.
  auto x = torch::randn({2, 1, 28, 28});
  EXPECT_TRUE(torch::equal(Forward(module, x), Forward(reference, x)));
  EXPECT_EQ(Forward(pruned, x).sizes(), (std::vector<int64_t>{2, 10}));

  // Saved archive loads in LibTorch and in stock Python torch.
  std::string path = TempPath("pruned.pt");
  pruned.save(path);
  auto reloaded = torch::jit::load(path);
  reloaded.eval();
  EXPECT_TRUE(torch::equal(Forward(reloaded, x), Forward(pruned, x)));
  std::string out;
  int rc = RunPython(std::string(testing::kPythonChannelCountCheck) +
                         "import torch\n"
                         "m = torch.jit.load('" +
                         path +
                         "')\n"
                         "m.eval()\n"
                         "y = m(torch.randn(3, 1, 28, 28))\n"
                         "assert tuple(y.shape) == (3, 10), y.shape\n"
                         "names = [n for n, _ in m.named_parameters()]\n"
                         "assert 'conv1.weight' in names and 'fc.weight' in names, names\n"
                         "assert check_channel_counts(m) >= 3\n"
                         "assert m.conv1.out_channels == m.conv1.weight.shape[0] < 16\n"
                         "print('ok')\n",
                     &out);
  EXPECT_EQ(rc, 0) << out;

  // Trainable: gradients reach every parameter.
  reloaded.train();
  auto loss = torch::nn::functional::cross_entropy(
      reloaded.forward({torch::randn({4, 1, 28, 28})}).toTensor(),
      torch::tensor({1, 2, 3, 4}, torch::kLong));
  loss.backward();
  for (const auto& p : reloaded.named_parameters()) {
    EXPECT_TRUE(p.value.requires_grad()) << p.name;
    EXPECT_TRUE(p.value.grad().defined()) << p.name;
  }
  std::remove(path.c_str());
}

// A depthwise conv whose channels were pruned computes `groups` from its
// weight, so torch.jit.freeze (weights become constants) folds it back to a
// constant: freezing's conv + batch-norm folding and optimize_for_inference's
// oneDNN convs need constant arguments, and without them a frozen pruned
// MobileNetV2 ran 1.5x slower than the frozen original.
TEST(Surgery, FreezingFoldsDepthwiseGroupsBackToConstants) {
  auto module = LoadTestModel("channel_last_cnn.pt");
  ModelAnalysis a = AnalyzeModel(module, kShape);
  KeepCounts keep = UniformKeepCounts(a, CostModel(a, "flops"), 0.5);
  auto pruned = ApplyPlan(module, a, SelectChannels(module, a, keep, "l1"));
  const int64_t depthwise_width =
      SubmoduleAt(pruned, "stage2.conv").attr("weight").toTensor().size(0);
  ASSERT_LT(depthwise_width, 16);
  pruned.eval();
  torch::jit::Module frozen = torch::jit::freeze(pruned);
  std::vector<int64_t> groups;
  std::function<void(torch::jit::Block*)> visit = [&](torch::jit::Block* block) {
    for (torch::jit::Node* node : block->nodes()) {
      if (node->kind() == c10::aten::conv2d) {
        auto value = torch::jit::toIValue(node->input(6));
        ASSERT_TRUE(value && value->isInt()) << *node;
        groups.push_back(value->toInt());
      }
      for (torch::jit::Block* inner : node->blocks()) visit(inner);
    }
  };
  visit(frozen.get_method("forward").graph()->block());
  EXPECT_EQ(groups.size(), 4u);
  EXPECT_NE(std::find(groups.begin(), groups.end(), depthwise_width), groups.end());
  auto x = torch::randn({2, 1, 28, 28});
  EXPECT_TRUE(torch::allclose(Forward(frozen, x), Forward(pruned, x), 1e-4, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(Models, UniformPrune,
                         ::testing::Values("plain_cnn.pt", "residual_cnn.pt"));

TEST(Surgery, KeepsHighestL1Channels) {
  auto module = LoadTestModel("plain_cnn.pt");
  ModelAnalysis a = AnalyzeModel(module, kShape);
  KeepCounts keep = FullKeepCounts(a);
  int conv1_group = a.layers.at(0).out_group;
  keep[conv1_group] = 4;
  PruningPlan plan = SelectChannels(module, a, keep, "l1");
  auto w = module.attr("conv1").toModule().attr("weight").toTensor();
  auto expected = std::get<1>(w.abs().sum({1, 2, 3}).topk(4));
  auto sorted = std::get<0>(expected.sort());
  ASSERT_EQ(plan.keep[conv1_group].size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(plan.keep[conv1_group][i], sorted[i].item<int64_t>());
  auto pruned = ApplyPlan(module, a, plan);
  auto pw = pruned.attr("conv1").toModule().attr("weight").toTensor();
  EXPECT_TRUE(torch::equal(pw, w.index_select(0, sorted)));
  EXPECT_EQ(pruned.attr("conv2").toModule().attr("weight").toTensor().size(1), 4);
  EXPECT_EQ(pruned.attr("bn1").toModule().attr("running_var").toTensor().size(0), 4);
}

}  // namespace
}  // namespace prune::engine
