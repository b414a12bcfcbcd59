#ifndef PRUNE_ENGINE_TEST_TEST_SUPPORT_H_
#define PRUNE_ENGINE_TEST_TEST_SUPPORT_H_

#include <torch/script.h>

#include <string>

#include "latency_table_builder.h"

namespace prune::engine::testing {

// Directory with the models written by make_test_models.py
// ($PRUNE_TEST_DATA_DIR, set by ctest).
std::string DataPath(const std::string& name);

// Latency-table settings for tests: one timed run per layer and model.
LatencyTableOptions QuickLatencyTableOptions(int64_t batch_size = 2, int grid_points = 3);

// A fresh path for a file the test writes.
std::string TempPath(const std::string& name);

// rm -rf / exists / empty directory, without std::filesystem (its first call
// crashed with PyTorch 2.11's pip libtorch and GCC 13 on the GPU machine).
void RemoveTree(const std::string& path);
bool PathExists(const std::string& path);
bool IsEmptyDirectory(const std::string& path);

// Runs `code` with $PRUNE_PYTHON (default /usr/bin/python3); returns the exit
// status and stores stdout + stderr in `output`.
int RunPython(const std::string& code, std::string* output);

torch::jit::Module LoadTestModel(const std::string& name);

// Python source defining `check_channel_counts(module)`: asserts that every
// conv / linear / batch-norm / layer-norm submodule's recorded channel counts
// (out_channels, in_channels, groups, in_features, out_features,
// num_features, normalized_shape) agree with its tensors, and returns how
// many it checked.
extern const char kPythonChannelCountCheck[];

// Python source defining `check_deploys_like(original, pruned, x, first)`:
// torch.jit.freeze of the pruned model gives its outputs, and
// torch.jit.optimize_for_inference of that leaves no more unfolded batch
// norms and plain (non-oneDNN) convs than it leaves of the original.
// Returns None when LibTorch cannot deploy the original either (e.g. oneDNN
// pooling of an upsampling adaptive pool). `first` picks the output tensor.
extern const char kPythonDeployCheck[];

}  // namespace prune::engine::testing

#endif  // PRUNE_ENGINE_TEST_TEST_SUPPORT_H_
