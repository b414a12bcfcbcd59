#include "evaluate.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>

#include "analysis.h"
#include "batch_norm_calibration.h"
#include "dataset.h"
#include "engine_error.h"
#include "finetune.h"
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

// The rewritten-graph calibration computes what train-mode passes compute,
// on a plain CNN, a residual one and a ResNet-18 (norms after adds, a norm
// whose module is reused is left alone by both).
TEST(Evaluate, RewrittenCalibrationMatchesTrainModePasses) {
  for (const char* name : {"plain_cnn.pt", "residual_cnn.pt", "resnet18.pt"}) {
    auto original = LoadTestModel(name);
    std::vector<int64_t> shape = name == std::string("resnet18.pt")
                                     ? std::vector<int64_t>{1, 3, 32, 32}
                                     : std::vector<int64_t>(kShape.begin(), kShape.end());
    ModelAnalysis a = AnalyzeModel(original, shape);
    torch::manual_seed(5);
    Dataset data{torch::randn({50, shape[1], shape[2], shape[3]}) * 2 + 1,
                 torch::zeros({50}, torch::kInt64)};
    CancelToken cancel;
    torch::jit::Module fast = original.clone();
    torch::jit::Module slow = original.clone();
    BatchNormCalibrator rewritten(fast, a);
    BatchNormCalibrator train_mode(slow, a, /*rewrite=*/false);
    EXPECT_TRUE(rewritten.rewritten()) << name;
    EXPECT_FALSE(train_mode.rewritten()) << name;
    rewritten.Run(data, 16, 3, torch::kCPU, cancel);
    train_mode.Run(data, 16, 3, torch::kCPU, cancel);
    EXPECT_FALSE(fast.is_training());
    int compared = 0;
    for (const auto& layer : a.layers) {
      if (layer.kind != LayerKind::kBatchNorm) continue;
      for (const char* stat : {"running_mean", "running_var"}) {
        torch::Tensor want = SubmoduleAt(slow, layer.name).attr(stat).toTensor();
        torch::Tensor got = SubmoduleAt(fast, layer.name).attr(stat).toTensor();
        torch::Tensor before = SubmoduleAt(original, layer.name).attr(stat).toTensor();
        EXPECT_TRUE(torch::allclose(got, want, 1e-4, 1e-5)) << name << " " << layer.name << stat;
        compared += torch::allclose(got, before) ? 0 : 1;
      }
    }
    EXPECT_GT(compared, 0) << name << ": nothing was recalibrated";
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::allclose(fast.forward({data.inputs}).toTensor(),
                                slow.forward({data.inputs}).toTensor(), 1e-4, 1e-5))
        << name;
  }
}

// Logits of `module` on all of `inputs`, for checks computed independently.
torch::Tensor Logits(torch::jit::Module& module, const torch::Tensor& inputs) {
  torch::NoGradGuard no_grad;
  module.eval();
  return module.forward({inputs}).toTensor();
}

// A deep copy whose parameters are trainable leaves (Module::clone() under
// autograd makes them clones with history, which an optimizer refuses).
torch::jit::Module TrainableCopy(const torch::jit::Module& base) {
  torch::jit::Module copy;
  {
    torch::NoGradGuard no_grad;
    copy = base.clone();
  }
  for (torch::Tensor p : copy.parameters()) p.requires_grad_(true);
  return copy;
}

// `base` with every parameter shifted by seeded noise of scale `scale`.
torch::jit::Module Perturbed(const torch::jit::Module& base, double scale, uint64_t seed) {
  torch::jit::Module copy = TrainableCopy(base);
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (torch::Tensor p : copy.parameters()) p.add_(torch::randn_like(p) * scale);
  return copy;
}

TEST(Evaluate, TopKAgreesWithTop1AndAnIndependentTop5) {
  auto module = LoadTestModel("plain_cnn.pt");
  DatasetSplit split = SplitDataset(LoadDataset(DataPath("dataset.pt"), kShape));
  CancelToken cancel;
  const Accuracy accuracy = TopKAccuracy(module, split.eval, 4, torch::kCPU, cancel);
  EXPECT_DOUBLE_EQ(accuracy.top1, Top1Accuracy(module, split.eval, 64, torch::kCPU, cancel));
  const torch::Tensor top5 = std::get<1>(Logits(module, split.eval.inputs).topk(5, 1));
  const double expected =
      top5.eq(split.eval.targets.unsqueeze(1)).any(1).to(torch::kDouble).mean().item<double>();
  EXPECT_DOUBLE_EQ(accuracy.top5, expected);
  EXPECT_GE(accuracy.top5, accuracy.top1);
}

TEST(Evaluate, FidelityIsPerfectForTheSameModelAndMatchesADirectComputation) {
  auto reference = LoadTestModel("plain_cnn.pt");
  Dataset data = LoadDataset(DataPath("dataset.pt"), kShape);
  CancelToken cancel;
  auto same = reference.clone();
  const Fidelity identical = OutputFidelity(reference, same, data.inputs, 7, torch::kCPU, cancel);
  EXPECT_DOUBLE_EQ(identical.top1_agreement, 1.0);
  EXPECT_NEAR(identical.mean_kl, 0.0, 1e-7);

  auto candidate = Perturbed(reference, 0.3, 1);
  const Fidelity f = OutputFidelity(reference, candidate, data.inputs, 7, torch::kCPU, cancel);
  const torch::Tensor ref = Logits(reference, data.inputs).to(torch::kDouble);
  const torch::Tensor cand = Logits(candidate, data.inputs).to(torch::kDouble);
  const double agreement =
      ref.argmax(1).eq(cand.argmax(1)).to(torch::kDouble).mean().item<double>();
  const torch::Tensor log_p = ref.log_softmax(1), log_q = cand.log_softmax(1);
  const double kl = (log_p.exp() * (log_p - log_q)).sum(1).mean().item<double>();
  EXPECT_NEAR(f.top1_agreement, agreement, 1e-9);
  EXPECT_NEAR(f.mean_kl, kl, 1e-4 * std::max(1.0, kl));
  EXPECT_GT(f.mean_kl, 1e-3);  // the perturbation is visible
}

// With kd_alpha = 1 the loss is pure distillation: labels must not matter,
// and the student must move towards its teacher.
TEST(FineTune, PureDistillationIgnoresLabelsAndApproachesTheTeacher) {
  auto teacher = LoadTestModel("plain_cnn.pt");
  teacher.eval();
  ModelAnalysis analysis = AnalyzeModel(teacher, kShape);
  Dataset data = LoadDataset(DataPath("dataset.pt"), kShape);
  Dataset shuffled = data;
  shuffled.targets = (data.targets + 3) % 10;
  CancelToken cancel;
  FineTuneOptions options;
  options.epochs = 3;
  options.lr = 0.02;
  options.batch_size = 10;
  options.seed = 5;
  options.teacher = &teacher;
  options.kd_alpha = 1.0;
  options.kd_temperature = 2.0;
  const auto kl_to_teacher = [&](torch::jit::Module& student) {
    return OutputFidelity(teacher, student, data.inputs, 25, torch::kCPU, cancel).mean_kl;
  };

  auto student = Perturbed(teacher, 0.2, 2);
  auto twin = TrainableCopy(student);
  const double kl_before = kl_to_teacher(student);
  FineTune(student, analysis, data, options, torch::kCPU, cancel, nullptr);
  FineTune(twin, analysis, shuffled, options, torch::kCPU, cancel, nullptr);
  EXPECT_LT(kl_to_teacher(student), 0.8 * kl_before);
  EXPECT_TRUE(torch::equal(Logits(student, data.inputs), Logits(twin, data.inputs)));

  // The control: with cross entropy in the loss, the labels do matter.
  options.kd_alpha = 0.5;
  auto ce_student = Perturbed(teacher, 0.2, 2);
  auto ce_twin = TrainableCopy(ce_student);
  FineTune(ce_student, analysis, data, options, torch::kCPU, cancel, nullptr);
  FineTune(ce_twin, analysis, shuffled, options, torch::kCPU, cancel, nullptr);
  EXPECT_FALSE(torch::equal(Logits(ce_student, data.inputs), Logits(ce_twin, data.inputs)));
}

}  // namespace
}  // namespace prune::engine
