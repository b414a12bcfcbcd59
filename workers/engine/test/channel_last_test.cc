// Channel-last blocks (ConvNeXt): channels followed through permute,
// layer_norm over the channels and per-channel layer scales; surgery keeps
// the scripted LayerNorm's normalized_shape true. Models come from
// make_test_models.py (ChannelLastCnn, OddPermuteCnn).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

#include "analysis.h"
#include "measure.h"
#include "surgery.h"
#include "test_support.h"
#include "uniform_strategy.h"

namespace prune::engine {
namespace {

using testing::LoadTestModel;
using testing::RunPython;
using testing::TempPath;

const std::vector<int64_t> kShape{1, 1, 28, 28};

const PruningGroup* GroupProducedBy(const ModelAnalysis& a, const std::string& module) {
  for (const auto& g : a.groups) {
    if (std::find(g.producers.begin(), g.producers.end(), module) != g.producers.end()) return &g;
  }
  return nullptr;
}

bool HasMember(const PruningGroup& g, const std::string& module, const std::string& tensor,
               int64_t dim) {
  return std::any_of(g.members.begin(), g.members.end(), [&](const SliceMember& m) {
    return m.module_path == module && m.tensor_name == tensor && m.dim == dim;
  });
}

torch::Tensor Forward(torch::jit::Module& m, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return m.forward({x}).toTensor();
}

TEST(ChannelLast, GroupsFollowPermuteLayerNormAndLayerScale) {
  ModelAnalysis a = AnalyzeModel(LoadTestModel("channel_last_cnn.pt"), kShape);
  // Residual stream of stage 1: stem conv, LayerNorm2d (permute, layer_norm,
  // permute back), the block's second Linear, its layer scale, the residual
  // add and the downsample's LayerNorm2d and conv.
  const PruningGroup* stream1 = GroupProducedBy(a, "stem.0");
  ASSERT_NE(stream1, nullptr);
  EXPECT_TRUE(stream1->prunable) << stream1->reason;
  EXPECT_EQ(stream1, GroupProducedBy(a, "stage1.fc2"));
  for (const char* norm : {"stem.1", "downsample.0"}) {
    EXPECT_TRUE(HasMember(*stream1, norm, "weight", 0)) << norm;
    EXPECT_TRUE(HasMember(*stream1, norm, "bias", 0)) << norm;
  }
  EXPECT_TRUE(HasMember(*stream1, "stage1", "layer_scale", 0));
  EXPECT_TRUE(HasMember(*stream1, "stage1.conv", "weight", 1));
  EXPECT_TRUE(HasMember(*stream1, "stage1.fc2", "weight", 0));
  EXPECT_TRUE(HasMember(*stream1, "downsample.1", "weight", 1));

  // Stage 1's conv output is normalised channel-last and read by fc1.
  const PruningGroup* conv1 = GroupProducedBy(a, "stage1.conv");
  ASSERT_NE(conv1, nullptr);
  EXPECT_TRUE(conv1->prunable) << conv1->reason;
  EXPECT_TRUE(HasMember(*conv1, "stage1.norm", "weight", 0));
  EXPECT_TRUE(HasMember(*conv1, "stage1.fc1", "weight", 1));

  // Stage 2 (depthwise conv): the stream runs on to the layer norm on [N, C]
  // and the classifier.
  const PruningGroup* stream2 = GroupProducedBy(a, "downsample.1");
  ASSERT_NE(stream2, nullptr);
  EXPECT_TRUE(stream2->prunable) << stream2->reason;
  EXPECT_EQ(stream2, GroupProducedBy(a, "stage2.fc2"));
  EXPECT_TRUE(HasMember(*stream2, "stage2.norm", "weight", 0));
  EXPECT_TRUE(HasMember(*stream2, "stage2", "layer_scale", 0));
  EXPECT_TRUE(HasMember(*stream2, "head_norm", "bias", 0));
  EXPECT_TRUE(HasMember(*stream2, "fc", "weight", 1));

  // The 4C hidden channels between the Linears.
  const PruningGroup* hidden = GroupProducedBy(a, "stage2.fc1");
  ASSERT_NE(hidden, nullptr);
  EXPECT_TRUE(hidden->prunable) << hidden->reason;
  EXPECT_EQ(hidden->channels, 64);

  // Layer norms count their parameters (no MACs): pruning half of stream 2
  // removes 8 weights and 8 biases from each of its two layer norms.
  KeepCounts keep = FullKeepCounts(a);
  ModelCost full = ComputeCost(a, keep);
  EXPECT_EQ(full.params, a.total_params);
  keep[stream2->id] = 8;
  ModelCost half = ComputeCost(a, keep);
  int64_t norm_params = 0;
  for (size_t i = 0; i < a.layers.size(); ++i) {
    if (a.layers[i].kind == LayerKind::kLayerNorm) {
      EXPECT_EQ(half.layers[i].macs, 0) << a.layers[i].name;
      norm_params += full.layers[i].params - half.layers[i].params;
    }
  }
  EXPECT_EQ(norm_params, 2 * (8 + 8));
}

TEST(ChannelLast, KeepingEverythingIsBitIdentical) {
  auto module = LoadTestModel("channel_last_cnn.pt");
  ModelAnalysis a = AnalyzeModel(module, kShape);
  auto same = ApplyPlan(module, a, SelectChannels(module, a, FullKeepCounts(a), "l1"));
  same.eval();
  torch::manual_seed(1);
  auto x = torch::randn({4, 1, 28, 28});
  EXPECT_TRUE(torch::equal(Forward(module, x), Forward(same, x)));
}

TEST(ChannelLast, HalfMacsLoadsInPythonWithTrueNormalizedShapes) {
  auto module = LoadTestModel("channel_last_cnn.pt");
  ModelAnalysis a = AnalyzeModel(module, kShape);
  KeepCounts keep = UniformKeepCounts(a, CostModel(a, "flops"), 0.5);
  // Stage 1's layer norm and stage 2's share one scripted class type: give
  // them different widths.
  const int conv1 = GroupProducedBy(a, "stage1.conv")->id;
  const int stream2 = GroupProducedBy(a, "downsample.1")->id;
  keep[conv1] = 6;
  keep[stream2] = 10;
  auto pruned = ApplyPlan(module, a, SelectChannels(module, a, keep, "l1"));
  pruned.eval();

  // The re-analysed pruned model costs what was predicted, and is again prunable.
  ModelAnalysis after = AnalyzeModel(pruned, kShape);
  const int64_t macs = ComputeCost(after, FullKeepCounts(after)).macs;
  EXPECT_EQ(macs, ComputeCost(a, keep).macs);
  EXPECT_LT(macs, ComputeCost(a, FullKeepCounts(a)).macs * 0.6);
  EXPECT_TRUE(GroupProducedBy(after, "stem.0")->prunable)
      << GroupProducedBy(after, "stem.0")->reason;
  EXPECT_TRUE(GroupProducedBy(after, "downsample.1")->prunable);

  auto x = torch::randn({2, 1, 28, 28});
  EXPECT_EQ(Forward(pruned, x).sizes(), (std::vector<int64_t>{2, 10}));
  const int64_t stream1_kept = keep[GroupProducedBy(a, "stem.0")->id];
  std::string path = TempPath("channel_last.pt");
  pruned.save(path);
  std::string out;
  int rc =
      RunPython(std::string(testing::kPythonChannelCountCheck) +
                    "import torch\n"
                    "m = torch.jit.load('" +
                    path +
                    "').eval()\n"
                    "assert tuple(m(torch.randn(3, 1, 28, 28)).shape) == (3, 10)\n"
                    "assert check_channel_counts(m) >= 10, check_channel_counts(m)\n"
                    "ln = lambda mod: tuple(mod.normalized_shape)\n"
                    "assert ln(m.stage1.norm) == (6,), ln(m.stage1.norm)\n"
                    "assert ln(m.stage2.norm) == (10,), ln(m.stage2.norm)\n"
                    "assert ln(m.head_norm) == (10,), ln(m.head_norm)\n"
                    "assert ln(getattr(m.stem, '1')) == (" +
                    std::to_string(stream1_kept) +
                    ",)\n"
                    "assert tuple(m.stage2.layer_scale.shape) == (10, 1, 1)\n"
                    "names = [n for n, _ in m.named_parameters()]\n"
                    "assert 'stage1.layer_scale' in names and 'stem.1.weight' in names, names\n"
                    "m.train()\n"
                    "m(torch.randn(3, 1, 28, 28)).square().mean().backward()\n"
                    "assert all(p.grad is not None for p in m.parameters())\n"
                    "print('ok')\n",
                &out);
  EXPECT_EQ(rc, 0) << out;
  std::remove(path.c_str());
}

TEST(ChannelLast, UnsupportedPermuteIsReportedNotPruned) {
  auto module = LoadTestModel("odd_permute_cnn.pt");
  ModelAnalysis a = AnalyzeModel(module, kShape);
  const PruningGroup* conv1 = GroupProducedBy(a, "conv1");
  ASSERT_NE(conv1, nullptr);
  EXPECT_FALSE(conv1->prunable);
  EXPECT_NE(conv1->reason.find("aten::permute"), std::string::npos) << conv1->reason;
  EXPECT_NE(conv1->reason.find(".py:"), std::string::npos) << conv1->reason;
  const PruningGroup* conv2 = GroupProducedBy(a, "conv2");
  ASSERT_NE(conv2, nullptr);
  EXPECT_TRUE(conv2->prunable) << conv2->reason;

  KeepCounts keep = UniformKeepCounts(a, CostModel(a, "flops"), 0.7);
  auto pruned = ApplyPlan(module, a, SelectChannels(module, a, keep, "l1"));
  pruned.eval();
  auto x = torch::randn({2, 1, 28, 28});
  EXPECT_EQ(Forward(pruned, x).sizes(), (std::vector<int64_t>{2, 10}));
  EXPECT_EQ(pruned.attr("conv1").toModule().attr("weight").toTensor().size(0), 8);
}

}  // namespace
}  // namespace prune::engine
