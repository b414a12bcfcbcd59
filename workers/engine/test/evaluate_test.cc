#include "evaluate.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>

#include "analysis.h"
#include "dataset.h"
#include "engine_error.h"
#include "test_support.h"

namespace prune::engine {
namespace {

using testing::DataPath;
using testing::LoadTestModel;

const std::vector<int64_t> kShape{1, 1, 28, 28};

// Reads an integer field from the small expected.json written by the generator.
int64_t ExpectedInt(const std::string& key) {
  std::ifstream in(DataPath("expected.json"));
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  auto pos = s.find("\"" + key + "\":");
  EXPECT_NE(pos, std::string::npos) << key;
  return std::stoll(s.substr(pos + key.size() + 3));
}

std::string LoadErrorCode(const std::string& file) {
  try {
    LoadDataset(DataPath(file), kShape);
  } catch (const EngineError& e) {
    return e.code();
  }
  return "";
}

TEST(Dataset, LoadsAndSplits) {
  Dataset data = LoadDataset(DataPath("dataset.pt"), kShape);
  EXPECT_EQ(data.inputs.sizes(), (std::vector<int64_t>{50, 1, 28, 28}));
  DatasetSplit split = SplitDataset(data);
  EXPECT_EQ(split.train.inputs.size(0), 40);
  EXPECT_EQ(split.eval.inputs.size(0), 10);
  EXPECT_TRUE(torch::equal(split.eval.targets, data.targets.slice(0, 40)));
}

TEST(Dataset, RejectsBadFiles) {
  EXPECT_EQ(LoadErrorCode("dataset_bad_shape.pt"), "DATASET_INVALID");
  EXPECT_EQ(LoadErrorCode("dataset_bad_keys.pt"), "DATASET_INVALID");
  EXPECT_EQ(LoadErrorCode("not_a_model.pt"), "DATASET_INVALID");
  EXPECT_EQ(LoadErrorCode("does_not_exist.pt"), "DATASET_INVALID");
}

TEST(Evaluate, Top1MatchesPython) {
  auto module = LoadTestModel("plain_cnn.pt");
  DatasetSplit split = SplitDataset(LoadDataset(DataPath("dataset.pt"), kShape));
  CancelToken cancel;
  for (int64_t batch : {3, 64}) {
    double top1 = Top1Accuracy(module, split.eval, batch, torch::kCPU, cancel);
    EXPECT_DOUBLE_EQ(top1, static_cast<double>(ExpectedInt("plain_cnn_eval_correct")) /
                               static_cast<double>(ExpectedInt("eval_count")));
  }
}

TEST(Evaluate, CancelStopsEvaluation) {
  auto module = LoadTestModel("plain_cnn.pt");
  Dataset data = LoadDataset(DataPath("dataset.pt"), kShape);
  CancelToken cancel;
  cancel.Cancel();
  try {
    Top1Accuracy(module, data, 8, torch::kCPU, cancel);
    FAIL() << "expected CANCELLED";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.code(), "CANCELLED");
  }
}

TEST(Evaluate, RecalibrationAveragesBatchStatistics) {
  auto module = LoadTestModel("plain_cnn.pt");
  ModelAnalysis a = AnalyzeModel(module, kShape);
  Dataset data = LoadDataset(DataPath("dataset.pt"), kShape);
  CancelToken cancel;
  RecalibrateBatchNorm(module, a, data, /*batch_size=*/25, /*max_batches=*/2, torch::kCPU, cancel);
  EXPECT_FALSE(module.is_training());

  torch::NoGradGuard no_grad;
  auto conv1 = module.attr("conv1").toModule();
  torch::Tensor mean_sum = torch::zeros({16});
  torch::Tensor var_sum = torch::zeros({16});
  for (int b = 0; b < 2; ++b) {
    auto y = conv1.forward({data.inputs.slice(0, 25 * b, 25 * (b + 1))}).toTensor();
    mean_sum += y.mean({0, 2, 3});
    var_sum += y.var({0, 2, 3}, /*unbiased=*/true);
  }
  auto bn1 = module.attr("bn1").toModule();
  EXPECT_TRUE(torch::allclose(bn1.attr("running_mean").toTensor(), mean_sum / 2, 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(bn1.attr("running_var").toTensor(), var_sum / 2, 1e-4, 1e-5));
}

}  // namespace
}  // namespace prune::engine
