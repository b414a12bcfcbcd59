// Channel shuffle and chunk (ShuffleNetV2) on tiny_shufflenet.pt and
// odd_shufflenet.pt (make_test_models.py): the stream's halves and shuffle
// groups are tied so that a pruned model is an exact sub-network, and a
// stream that cannot be halved evenly stays unpruned with a reason.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>

#include "analysis.h"
#include "latency_table_builder.h"
#include "measure.h"
#include "search/search.h"
#include "surgery.h"
#include "test_support.h"

namespace prune::engine {
namespace {

using testing::LoadTestModel;
using testing::RunPython;
using testing::TempPath;

const std::vector<int64_t> kShape{1, 3, 16, 16};

torch::Tensor Forward(torch::jit::Module& m, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return m.forward({x}).toTensor();
}

int GroupProducedBy(const ModelAnalysis& a, const std::string& producer) {
  for (const auto& g : a.groups) {
    if (std::find(g.producers.begin(), g.producers.end(), producer) != g.producers.end()) {
      return g.id;
    }
  }
  return -1;
}

const SliceMember* FindMember(const PruningGroup& g, const std::string& path,
                              const std::string& tensor, int64_t dim) {
  for (const auto& m : g.members) {
    if (m.module_path == path && m.tensor_name == tensor && m.dim == dim) return &m;
  }
  return nullptr;
}

// The original model with every removed channel's producing weights, biases
// and norm scale / shift zeroed: such a channel is 0 after its norm (and
// ReLU), so it contributes nothing downstream, and channel shuffles only
// move it. Removing it must compute the same.
torch::jit::Module Masked(const torch::jit::Module& original, const ModelAnalysis& a,
                          const PruningPlan& plan) {
  torch::NoGradGuard no_grad;
  torch::jit::Module m = original.clone();
  for (const auto& g : a.groups) {
    if (!g.prunable) continue;
    const auto& keep = plan.keep.at(g.id);
    for (const auto& member : g.members) {
      if (member.role == MemberRole::kConsumer ||
          (member.tensor_name != "weight" && member.tensor_name != "bias")) {
        continue;
      }
      torch::Tensor t = SubmoduleAt(m, member.module_path).attr(member.tensor_name).toTensor();
      for (int64_t c = 0; c < g.channels; ++c) {
        if (std::find(keep.begin(), keep.end(), c) != keep.end()) continue;
        t.narrow(member.dim, member.offset + c * member.block, member.block).zero_();
      }
    }
  }
  return m;
}

// Keeps about half of every prunable group (at least one channel).
KeepCounts Half(const ModelAnalysis& a) {
  KeepCounts keep = FullKeepCounts(a);
  for (const auto& g : a.groups) {
    if (g.prunable) keep[g.id] = std::max<int64_t>(1, g.channels / 2);
  }
  return keep;
}

const char* const kStream[] = {"stage.0.branch1.2", "stage.0.branch2.5", "stage.1.branch2.5",
                               "stage.2.branch2.5"};

TEST(Shuffle, StreamIsTiedIntoUnits) {
  auto module = LoadTestModel("tiny_shufflenet.pt");
  ModelAnalysis a = AnalyzeModel(module, kShape);
  const int stream = GroupProducedBy(a, kStream[0]);
  ASSERT_GE(stream, 0);
  const PruningGroup& g = a.groups[stream];
  EXPECT_TRUE(g.prunable) << g.reason;
  // 16 channels: the stride-2 unit ties its two branches (8 units of 2), each
  // chunk ties the halves: 4 units of 4, then 2 units of 8.
  EXPECT_EQ(g.channels, 2);
  for (const char* producer : kStream) EXPECT_EQ(GroupProducedBy(a, producer), stream) << producer;
  const SliceMember* head = FindMember(g, "conv5.0", "weight", 1);
  ASSERT_NE(head, nullptr);
  EXPECT_EQ(head->block, 8);
  EXPECT_EQ(head->offset, 0);
  // The last unit's branch (8 channels, tied to the passed-through half)
  // holds 2 units of 4 of its own output channels.
  const SliceMember* last = FindMember(g, "stage.2.branch2.5", "weight", 0);
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->block, 4);
  // Branch-internal widths are their own groups.
  const int inner = GroupProducedBy(a, "stage.1.branch2.0");
  ASSERT_GE(inner, 0);
  EXPECT_NE(inner, stream);
  EXPECT_TRUE(a.groups[inner].prunable);
  for (const auto& group : a.groups) {
    if (!group.prunable) EXPECT_NE(group.reason, "") << group.id;
  }
}

TEST(Shuffle, PruningNothingIsBitIdentical) {
  auto module = LoadTestModel("tiny_shufflenet.pt");
  module.eval();
  ModelAnalysis a = AnalyzeModel(module, kShape);
  auto same = ApplyPlan(module, a, SelectChannels(module, a, FullKeepCounts(a), "l1"));
  torch::manual_seed(3);
  auto x = torch::randn({2, 3, 16, 16});
  EXPECT_TRUE(torch::equal(Forward(module, x), Forward(same, x)));
}

TEST(Shuffle, PrunedModelIsTheMaskedOriginal) {
  auto module = LoadTestModel("tiny_shufflenet.pt");
  module.eval();
  ModelAnalysis a = AnalyzeModel(module, kShape);
  const int stream = GroupProducedBy(a, kStream[0]);
  ASSERT_GE(stream, 0);
  KeepCounts keep = Half(a);
  PruningPlan plan = SelectChannels(module, a, keep, "l1");
  auto pruned = ApplyPlan(module, a, plan);
  pruned.eval();
  auto masked = Masked(module, a, plan);
  masked.eval();
  torch::manual_seed(5);
  auto x = torch::randn({4, 3, 16, 16});
  auto y = Forward(pruned, x);
  auto expected = Forward(masked, x);
  EXPECT_TRUE(torch::allclose(y, expected, 1e-4, 1e-5)) << (y - expected).abs().max().item<float>();
  // Masking changed something (else the comparison proves nothing).
  EXPECT_FALSE(torch::allclose(Forward(module, x), expected, 1e-4, 1e-5));
  auto head = SubmoduleAt(pruned, "conv5.0").attr("weight").toTensor();
  EXPECT_EQ(head.size(1), 8);  // one unit of 8 of the stream kept
  // The re-analysed pruned model predicts its own MACs.
  ModelAnalysis again = AnalyzeModel(pruned, kShape);
  EXPECT_EQ(ComputeCost(again, FullKeepCounts(again)).macs, ComputeCost(a, keep).macs);

  const std::string path = TempPath("pruned_tiny_shufflenet.pt");
  pruned.save(path);
  std::string output;
  int status = RunPython(std::string(testing::kPythonChannelCountCheck) +
                             "import torch\n"
                             "m = torch.jit.load('" +
                             path +
                             "')\n"
                             "assert getattr(m.conv5, '0').weight.shape[1] == 8\n"
                             "assert check_channel_counts(m) > 0\n"
                             "x = torch.randn(2, 3, 16, 16)\n"
                             "m.train()\n"
                             "m(x).sum().backward()\n"
                             "m.eval()\n"
                             "assert m(x).shape == (2, 10)\n",
                         &output);
  EXPECT_EQ(status, 0) << output;
  std::remove(path.c_str());
}

TEST(Shuffle, StreamThatCannotBeHalvedStaysWithReason) {
  auto module = LoadTestModel("odd_shufflenet.pt");
  module.eval();
  ModelAnalysis a = AnalyzeModel(module, kShape);
  // 24 channels: 12 units of 2, 6 of 4, 3 of 8: the third chunk cannot
  // keep its halves alike.
  const int stream = GroupProducedBy(a, kStream[0]);
  ASSERT_GE(stream, 0);
  EXPECT_FALSE(a.groups[stream].prunable);
  EXPECT_NE(a.groups[stream].reason.find("3 independent units of 8 channels"), std::string::npos)
      << a.groups[stream].reason;
  EXPECT_NE(a.groups[stream].reason.find("aten::chunk"), std::string::npos)
      << a.groups[stream].reason;
  // The last unit's branch output is shuffled with that unpruned half.
  const int last = GroupProducedBy(a, "stage.3.branch2.5");
  ASSERT_GE(last, 0);
  EXPECT_FALSE(a.groups[last].prunable);
  EXPECT_NE(a.groups[last].reason.find("not pruned"), std::string::npos) << a.groups[last].reason;
  // Everything else still prunes exactly.
  PruningPlan plan = SelectChannels(module, a, Half(a), "l1");
  auto pruned = ApplyPlan(module, a, plan);
  pruned.eval();
  auto masked = Masked(module, a, plan);
  masked.eval();
  torch::manual_seed(6);
  auto x = torch::randn({2, 3, 16, 16});
  EXPECT_TRUE(torch::allclose(Forward(pruned, x), Forward(masked, x), 1e-4, 1e-5));
}

// The head conv reads the stream as 2 units of 8 channels: it can only keep
// 8 or 16, and those are the counts the latency table times; the search
// decides the stream as one unit of 2.
TEST(Shuffle, LatencyGridAndSearchUseWholeUnits) {
  auto module = LoadTestModel("tiny_shufflenet.pt");
  module.eval();
  ModelAnalysis a = AnalyzeModel(module, kShape);
  const int stream = GroupProducedBy(a, kStream[0]);
  ASSERT_GE(stream, 0);
  CancelToken cancel;
  LatencyTable table =
      BuildLatencyTable(module, a, testing::QuickLatencyTableOptions(1, 4), cancel);
  bool found = false;
  for (const auto& grid : table.layers) {
    if (a.layers.at(grid.layer).name != "conv5.0") continue;
    found = true;
    EXPECT_EQ(grid.in_counts, (std::vector<int64_t>{8, 16}));
  }
  EXPECT_TRUE(found);
  bool decided = false;
  for (const auto& unit : search::DecisionUnits(a)) {
    if (unit.group == stream) {
      decided = true;
      EXPECT_EQ(unit.channels, 2);
    }
  }
  EXPECT_TRUE(decided);
}

}  // namespace
}  // namespace prune::engine
