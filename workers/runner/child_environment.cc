#include "workers/runner/child_environment.h"

#include <unistd.h>

#include "absl/strings/match.h"

extern char** environ;

namespace prune::worker {
namespace {

// Exact names passed through.
constexpr const char* kPassedNames[] = {
    "PATH",           "LANG",           "LC_ALL",           "TZ",
    "LD_PRELOAD",     "LD_LIBRARY_PATH", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
    "MALLOC_CONF",    "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES",
};
// Name prefixes passed through: thread-pool, BLAS and CUDA tuning knobs.
constexpr const char* kPassedPrefixes[] = {"OMP_", "KMP_", "OPENBLAS_", "GOTO_", "MKL_",
                                           "CUDA_", "CUBLAS_", "CUDNN_", "NCCL_", "TORCH_"};

bool Passed(const std::string& name) {
  for (const char* exact : kPassedNames) {
    if (name == exact) return true;
  }
  for (const char* prefix : kPassedPrefixes) {
    if (absl::StartsWith(name, prefix)) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> ChildEnvironment(const std::vector<std::string>& parent,
                                          const std::string& scratch_dir) {
  std::vector<std::string> child;
  for (const std::string& entry : parent) {
    const size_t equals = entry.find('=');
    if (equals == std::string::npos || equals == 0) continue;
    if (Passed(entry.substr(0, equals))) child.push_back(entry);
  }
  child.push_back("HOME=" + scratch_dir);
  child.push_back("TMPDIR=" + scratch_dir);
  return child;
}

std::vector<std::string> CurrentEnvironment() {
  std::vector<std::string> entries;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    entries.emplace_back(*entry);
  }
  return entries;
}

}  // namespace prune::worker
