// libFuzzer harness for the worker's dataset reader
// (workers/engine/src/dataset.h): the input is a torch.save file. Every input
// must either load into a dataset that satisfies the documented contract or be
// refused with EngineError DATASET_INVALID; any other exception, abort or
// memory error is a finding. LibTorch itself is not instrumented, so the
// harness reads every element of a loaded dataset here, in instrumented code,
// where ASan sees reads past the tensors' storage.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>

#include "dataset.h"
#include "engine_error.h"

#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<int64_t> kShape = {1, 1, 4, 4};
  const std::vector<char> bytes(data, data + size);
  prune::engine::Dataset dataset;
  try {
    dataset = prune::engine::LoadDatasetFromBytes(bytes, kShape);
  } catch (const prune::engine::EngineError& e) {
    if (e.code() != "DATASET_INVALID") {
      std::fprintf(stderr, "unexpected EngineError %s: %s\n", e.code().c_str(), e.what());
      std::abort();
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exception escaped LoadDatasetFromBytes: %s\n", e.what());
    std::abort();
  }

  const torch::Tensor& inputs = dataset.inputs;
  const torch::Tensor& targets = dataset.targets;
  FUZZ_CHECK(inputs.scalar_type() == torch::kFloat32 && targets.scalar_type() == torch::kInt64);
  FUZZ_CHECK(inputs.dim() == 4 && inputs.size(1) == 1 && inputs.size(2) == 4 &&
             inputs.size(3) == 4);
  FUZZ_CHECK(targets.dim() == 1 && targets.size(0) == inputs.size(0) && inputs.size(0) >= 2);
  FUZZ_CHECK(inputs.is_contiguous() && targets.is_contiguous());
  const float* x = inputs.data_ptr<float>();
  float sum = 0;
  for (int64_t i = 0; i < inputs.numel(); ++i) sum += x[i];
  const int64_t* y = targets.data_ptr<int64_t>();
  for (int64_t i = 0; i < targets.numel(); ++i) FUZZ_CHECK(y[i] >= 0);
  // What the worker does next.
  prune::engine::DatasetSplit split = prune::engine::SplitDataset(dataset);
  FUZZ_CHECK(split.train.inputs.size(0) >= 1 && split.eval.inputs.size(0) >= 1);
  static volatile float sink;
  sink = sum;  // keeps the loop
  return 0;
}
