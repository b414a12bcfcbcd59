// Grouped (not depthwise) convs: the same within-group positions are removed
// from every conv group, on tiny_resnext.pt (make_test_models.py: a ResNeXt
// block of width 32 whose 3x3 conv has 4 groups of 8 channels).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>

#include "analysis.h"
#include "latency_table_builder.h"
#include "measure.h"
#include "surgery.h"
#include "test_support.h"

namespace prune::engine {
namespace {

using testing::LoadTestModel;
using testing::RunPython;
using testing::TempPath;

const std::vector<int64_t> kShape{1, 1, 28, 28};
constexpr int64_t kGroups = 4;
constexpr int64_t kPerGroup = 8;  // block width 32 / 4 groups

torch::Tensor Forward(torch::jit::Module& m, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return m.forward({x}).toTensor();
}

size_t LayerIndex(const ModelAnalysis& a, const std::string& name) {
  for (size_t i = 0; i < a.layers.size(); ++i) {
    if (a.layers[i].name == name) return i;
  }
  ADD_FAILURE() << "no layer " << name;
  return 0;
}

// The group whose producers include `producer` (-1 if none).
int GroupProducedBy(const ModelAnalysis& a, const std::string& producer) {
  for (const auto& g : a.groups) {
    if (std::find(g.producers.begin(), g.producers.end(), producer) != g.producers.end()) {
      return g.id;
    }
  }
  return -1;
}

// Offsets of the members of `group` slicing `path`.`tensor` along `dim`.
std::vector<int64_t> MemberOffsets(const PruningGroup& group, const std::string& path,
                                   const std::string& tensor, int64_t dim) {
  std::vector<int64_t> offsets;
  for (const auto& m : group.members) {
    if (m.module_path == path && m.tensor_name == tensor && m.dim == dim) {
      offsets.push_back(m.offset);
    }
  }
  std::sort(offsets.begin(), offsets.end());
  return offsets;
}

// Channels {g * 8 + j} of all 4 conv groups for the positions j not kept.
torch::Tensor RemovedChannels(const std::vector<int64_t>& kept) {
  std::vector<int64_t> removed;
  for (int64_t g = 0; g < kGroups; ++g) {
    for (int64_t j = 0; j < kPerGroup; ++j) {
      if (std::find(kept.begin(), kept.end(), j) == kept.end()) {
        removed.push_back(g * kPerGroup + j);
      }
    }
  }
  return torch::tensor(removed, torch::kInt64);
}

// tiny_resnext's forward written out with the original weights, zeroing the
// given channels of the block's two inner activations (after each ReLU). A
// channel zeroed there contributes nothing downstream, which is exactly what
// removing it does, so the pruned model must compute this.
torch::Tensor ReferenceForward(const torch::jit::Module& m, const torch::Tensor& x,
                               const torch::Tensor& zero_inner1, const torch::Tensor& zero_inner2) {
  torch::NoGradGuard no_grad;
  auto t = [&](const std::string& path, const char* name) {
    return SubmoduleAt(m, path).attr(name).toTensor();
  };
  auto bn = [&](const torch::Tensor& y, const std::string& path) {
    return torch::batch_norm(y, t(path, "weight"), t(path, "bias"), t(path, "running_mean"),
                             t(path, "running_var"), /*training=*/false, 0.1, 1e-5,
                             /*cudnn_enabled=*/false);
  };
  torch::Tensor h = torch::relu(bn(torch::conv2d(x, t("stem", "weight"), {}, 1, 1), "bn"));
  torch::Tensor a = torch::relu(bn(torch::conv2d(h, t("block.conv1", "weight")), "block.bn1"));
  if (zero_inner1.numel() > 0) a.index_fill_(1, zero_inner1, 0.0);
  torch::Tensor b = torch::relu(
      bn(torch::conv2d(a, t("block.conv2", "weight"), t("block.conv2", "bias"), 1, 1, 1, kGroups),
         "block.bn2"));
  if (zero_inner2.numel() > 0) b.index_fill_(1, zero_inner2, 0.0);
  torch::Tensor out =
      torch::relu(bn(torch::conv2d(b, t("block.conv3", "weight")), "block.bn3") + h);
  return torch::linear(torch::adaptive_avg_pool2d(out, {1, 1}).flatten(1), t("fc", "weight"),
                       t("fc", "bias"));
}

struct Pruned {
  torch::jit::Module original;
  ModelAnalysis analysis;
  int inner1 = -1;  // conv1's output = the grouped conv's input
  int inner2 = -1;  // the grouped conv's output
  KeepCounts keep;
  PruningPlan plan;
  torch::jit::Module pruned;
};

// Keeps 5 of 8 positions of the grouped conv's input groups and 3 of 8 of its
// output groups, everything else.
Pruned PruneInnerGroups() {
  Pruned p;
  p.original = LoadTestModel("tiny_resnext.pt");
  p.original.eval();
  p.analysis = AnalyzeModel(p.original, kShape);
  p.inner1 = GroupProducedBy(p.analysis, "block.conv1");
  p.inner2 = GroupProducedBy(p.analysis, "block.conv2");
  p.keep = FullKeepCounts(p.analysis);
  if (p.inner1 >= 0 && p.inner2 >= 0) {
    p.keep[p.inner1] = 5;
    p.keep[p.inner2] = 3;
  }
  p.plan = SelectChannels(p.original, p.analysis, p.keep, "l1");
  p.pruned = ApplyPlan(p.original, p.analysis, p.plan);
  p.pruned.eval();
  return p;
}

TEST(GroupedConv, AnalysisTiesTheSamePositionsOfEveryGroup) {
  auto module = LoadTestModel("tiny_resnext.pt");
  ModelAnalysis a = AnalyzeModel(module, kShape);
  const int inner1 = GroupProducedBy(a, "block.conv1");
  const int inner2 = GroupProducedBy(a, "block.conv2");
  ASSERT_GE(inner1, 0);
  ASSERT_GE(inner2, 0);
  ASSERT_NE(inner1, inner2);
  for (int id : {inner1, inner2}) {
    const PruningGroup& g = a.groups[id];
    EXPECT_TRUE(g.prunable) << g.reason;
    EXPECT_EQ(g.channels, kPerGroup) << "one conv group's worth of channels";
  }
  const std::vector<int64_t> every_group{0, 8, 16, 24};
  const PruningGroup& in = a.groups[inner1];
  EXPECT_EQ(MemberOffsets(in, "block.conv1", "weight", 0), every_group);
  EXPECT_EQ(MemberOffsets(in, "block.bn1", "running_var", 0), every_group);
  // The grouped conv's weight dim 1 holds one conv group's input channels.
  EXPECT_EQ(MemberOffsets(in, "block.conv2", "weight", 1), std::vector<int64_t>{0});
  const PruningGroup& out = a.groups[inner2];
  EXPECT_EQ(MemberOffsets(out, "block.conv2", "weight", 0), every_group);
  EXPECT_EQ(MemberOffsets(out, "block.conv2", "bias", 0), every_group);
  EXPECT_EQ(MemberOffsets(out, "block.bn2", "weight", 0), every_group);
  EXPECT_EQ(MemberOffsets(out, "block.conv3", "weight", 1), every_group);

  // Layers see the grouped channels as 4 runs of one group.
  const Layer& conv2 = a.layers[LayerIndex(a, "block.conv2")];
  EXPECT_EQ(conv2.conv_groups, kGroups);
  EXPECT_FALSE(conv2.depthwise);
  EXPECT_EQ(conv2.in_group, -1);
  EXPECT_EQ(conv2.out_group, -1);
  ASSERT_EQ(conv2.in_parts.size(), 4u);
  ASSERT_EQ(conv2.out_parts.size(), 4u);
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(conv2.in_parts[k].group, inner1);
    EXPECT_EQ(conv2.in_parts[k].channels, kPerGroup);
    EXPECT_EQ(conv2.out_parts[k].group, inner2);
  }
  const Layer& conv3 = a.layers[LayerIndex(a, "block.conv3")];
  ASSERT_EQ(conv3.in_parts.size(), 4u);
  EXPECT_EQ(conv3.in_parts[0].group, inner2);

  // The residual channels stay one ordinary group of 16.
  const int residual = GroupProducedBy(a, "stem");
  ASSERT_GE(residual, 0);
  EXPECT_TRUE(a.groups[residual].prunable) << a.groups[residual].reason;
  EXPECT_EQ(a.groups[residual].channels, 16);
}

TEST(GroupedConv, KeepingEverythingIsBitIdentical) {
  auto module = LoadTestModel("tiny_resnext.pt");
  module.eval();
  ModelAnalysis a = AnalyzeModel(module, kShape);
  auto same = ApplyPlan(module, a, SelectChannels(module, a, FullKeepCounts(a), "l1"));
  same.eval();
  torch::manual_seed(1);
  auto x = torch::randn({4, 1, 28, 28});
  EXPECT_TRUE(torch::equal(Forward(module, x), Forward(same, x)));
}

TEST(GroupedConv, PrunedModelComputesTheOriginalWithRemovedChannelsZeroed) {
  Pruned p = PruneInnerGroups();
  ASSERT_GE(p.inner1, 0);
  ASSERT_GE(p.inner2, 0);
  ASSERT_EQ(p.plan.keep[p.inner1].size(), 5u);
  ASSERT_EQ(p.plan.keep[p.inner2].size(), 3u);
  torch::manual_seed(2);
  auto x = torch::randn({3, 1, 28, 28});
  const torch::Tensor none = torch::empty({0}, torch::kInt64);
  // The hand-written reference is the model...
  EXPECT_TRUE(torch::allclose(Forward(p.original, x), ReferenceForward(p.original, x, none, none),
                              1e-4, 1e-5));
  // ...the pruning changes its output...
  torch::Tensor pruned = Forward(p.pruned, x);
  EXPECT_FALSE(torch::allclose(Forward(p.original, x), pruned, 1e-3, 1e-4));
  // ...and the pruned model is the original with the removed positions of
  // every conv group zeroed.
  torch::Tensor expected = ReferenceForward(p.original, x, RemovedChannels(p.plan.keep[p.inner1]),
                                            RemovedChannels(p.plan.keep[p.inner2]));
  EXPECT_TRUE(torch::allclose(pruned, expected, 1e-4, 1e-5))
      << (pruned - expected).abs().max().item<double>();
}

TEST(GroupedConv, CountsMacsOfThePrunedGroupedConv) {
  Pruned p = PruneInnerGroups();
  ASSERT_GE(p.inner1, 0);
  const ModelCost cost = ComputeCost(p.analysis, p.keep);
  const LayerCost& conv2 = cost.layers[LayerIndex(p.analysis, "block.conv2")];
  // 4 groups: 20 = 4 x 5 input and 12 = 4 x 3 output channels, 3x3 kernel, 28x28.
  EXPECT_EQ(conv2.in_channels, 20);
  EXPECT_EQ(conv2.out_channels, 12);
  EXPECT_EQ(conv2.macs, 12 * (20 / kGroups) * 9 * 28 * 28);
  EXPECT_EQ(conv2.params, 12 * (20 / kGroups) * 9 + 12);
  const LayerCost& conv1 = cost.layers[LayerIndex(p.analysis, "block.conv1")];
  EXPECT_EQ(conv1.out_channels, 20);
  EXPECT_EQ(conv1.macs, 20 * 16 * 28 * 28);
  // The pruned model, analysed afresh, has exactly the predicted cost.
  ModelAnalysis after = AnalyzeModel(p.pruned, kShape);
  const ModelCost real = ComputeCost(after, FullKeepCounts(after));
  EXPECT_EQ(real.macs, cost.macs);
  EXPECT_EQ(real.params, cost.params);
  EXPECT_EQ(real.layers[LayerIndex(after, "block.conv2")].macs, conv2.macs);
}

TEST(GroupedConv, PrunedModelLoadsInPythonWithGroupShapes) {
  Pruned p = PruneInnerGroups();
  std::string path = TempPath("grouped_pruned.pt");
  p.pruned.save(path);
  std::string out;
  int rc =
      RunPython(std::string(testing::kPythonChannelCountCheck) +
                    "import torch\n"
                    "m = torch.jit.load('" +
                    path +
                    "').eval()\n"
                    "b = m.block\n"
                    "assert tuple(b.conv2.weight.shape) == (12, 5, 3, 3), b.conv2.weight.shape\n"
                    "assert (b.conv2.groups, b.conv2.in_channels, b.conv2.out_channels) == "
                    "(4, 20, 12)\n"
                    "assert tuple(b.conv2.bias.shape) == (12,)\n"
                    "assert b.conv1.weight.shape[0] == 20 and b.bn1.num_features == 20\n"
                    "assert b.bn2.num_features == 12 and b.conv3.weight.shape[1] == 12\n"
                    "assert check_channel_counts(m) == 9, check_channel_counts(m)\n"
                    "x = torch.randn(2, 1, 28, 28)\n"
                    "assert tuple(m(x).shape) == (2, 10)\n"
                    "m.train()\n"
                    "m(x).square().mean().backward()\n"
                    "assert all(q.grad is not None for q in m.parameters())\n"
                    "print('ok')\n",
                &out);
  EXPECT_EQ(rc, 0) << out;
  std::remove(path.c_str());
}

// A layer's timing grid steps by its groups: a grouped conv only runs with
// channel counts that its groups divide.
TEST(GroupedConv, LatencyTableTimesWholeGroupSteps) {
  auto module = LoadTestModel("tiny_resnext.pt");
  module.eval();
  ModelAnalysis a = AnalyzeModel(module, kShape);
  CancelToken cancel;
  LatencyTable table = BuildLatencyTable(module, a, testing::QuickLatencyTableOptions(), cancel);
  const size_t conv2 = LayerIndex(a, "block.conv2");
  bool found = false;
  for (const auto& grid : table.layers) {
    if (grid.layer != static_cast<int>(conv2)) continue;
    found = true;
    EXPECT_EQ(grid.in_counts, (std::vector<int64_t>{12, 20, 32}));
    EXPECT_EQ(grid.out_counts, (std::vector<int64_t>{12, 20, 32}));
  }
  EXPECT_TRUE(found);
}

// Channels read by grouped convs of 4 and of 2 groups, whose outputs are
// added: the structures contradict each other, so those channels stay.
TEST(GroupedConv, ContradictingGroupCountsAreNotPruned) {
  auto module = LoadTestModel("group_count_mismatch.pt");
  ModelAnalysis a = AnalyzeModel(module, kShape);
  const int input = GroupProducedBy(a, "conv1");
  const int sum = GroupProducedBy(a, "by4");
  ASSERT_GE(input, 0);
  ASSERT_GE(sum, 0);
  EXPECT_FALSE(a.groups[input].prunable);
  EXPECT_NE(a.groups[input].reason.find("grouped conv by2 (groups=2)"), std::string::npos)
      << a.groups[input].reason;
  EXPECT_FALSE(a.groups[sum].prunable);
  EXPECT_NE(a.groups[sum].reason.find("different numbers of conv groups (4 and 2)"),
            std::string::npos)
      << a.groups[sum].reason;
  // Nothing changes, and nothing breaks.
  auto same = ApplyPlan(module, a, SelectChannels(module, a, FullKeepCounts(a), "l1"));
  torch::manual_seed(4);
  auto x = torch::randn({2, 1, 28, 28});
  EXPECT_TRUE(torch::equal(Forward(module, x), Forward(same, x)));
}

}  // namespace
}  // namespace prune::engine
