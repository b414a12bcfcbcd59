#include "test_support.h"

#include <dirent.h>
#include <execinfo.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace prune::engine::testing {
namespace {

// A crashing test prints its stack before dying (the test binaries link with
// -rdynamic so frames have names): a segfault on a CI or GPU machine with no
// debugger is otherwise only "SegFault" in the ctest log.
void PrintStackAndDie(int signal_number, siginfo_t* info, void* context) {
  static const char kHeader[] = "\n*** fatal signal; faulting address, then the stack:\n";
  (void)!write(STDERR_FILENO, kHeader, sizeof(kHeader) - 1);
  void* where[3] = {info->si_addr, nullptr, nullptr};
  int n = 1;
#if defined(__x86_64__)
  // The faulting instruction, and the word on top of the stack (the return
  // address when the crash is a call through a bad pointer, which the
  // unwinder cannot step over).
  const auto* uc = static_cast<const ucontext_t*>(context);
  where[n++] = reinterpret_cast<void*>(uc->uc_mcontext.gregs[REG_RIP]);
  where[n++] = *reinterpret_cast<void* const*>(uc->uc_mcontext.gregs[REG_RSP]);
#else
  (void)context;
#endif
  backtrace_symbols_fd(where, n, STDERR_FILENO);
  void* frames[64];
  backtrace_symbols_fd(frames, backtrace(frames, 64), STDERR_FILENO);
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

[[maybe_unused]] const bool kStackOnCrash = [] {
  struct sigaction action {};
  action.sa_sigaction = PrintStackAndDie;
  action.sa_flags = SA_SIGINFO;
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) sigaction(s, &action, nullptr);
  return true;
}();

}  // namespace

std::string DataPath(const std::string& name) {
  const char* dir = std::getenv("PRUNE_TEST_DATA_DIR");
  return std::string(dir ? dir : "test_models") + "/" + name;
}

std::string TempPath(const std::string& name) {
  static int counter = 0;
  return DataPath("tmp-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" + name);
}

void RemoveTree(const std::string& path) {
  nftw(
      path.c_str(),
      [](const char* p, const struct stat*, int, struct FTW*) {
        ::remove(p);
        return 0;  // keep going: remove what can be removed
      },
      16, FTW_DEPTH | FTW_PHYS);
}

bool PathExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool IsEmptyDirectory(const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (!dir) return false;
  bool empty = true;
  while (const dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") empty = false;
  }
  closedir(dir);
  return empty;
}

LatencyTableOptions QuickLatencyTableOptions(int64_t batch_size, int grid_points) {
  LatencyTableOptions o;
  o.batch_size = batch_size;
  o.grid_points = grid_points;
  o.layer_runs = 1;
  o.model_runs = 1;
  return o;
}

int RunPython(const std::string& code, std::string* output) {
  std::string script = TempPath("script.py");
  std::ofstream(script) << code;
  const char* python = std::getenv("PRUNE_PYTHON");
  std::string command = std::string(python ? python : "/usr/bin/python3") + " " + script + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1;
  std::array<char, 4096> buf;
  output->clear();
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) output->append(buf.data(), n);
  int status = pclose(pipe);
  std::remove(script.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

torch::jit::Module LoadTestModel(const std::string& name) {
  auto module = torch::jit::load(DataPath(name));
  module.eval();
  return module;
}

const char kPythonChannelCountCheck[] = R"(
def check_channel_counts(module):
    checked = 0
    for name, m in module.named_modules():
        w = getattr(m, "weight", None) if hasattr(m, "weight") else None
        if hasattr(m, "out_channels") and hasattr(m, "groups") and w is not None:
            if getattr(m, "transposed", False):
                got = (w.shape[0], w.shape[1] * m.groups)
            else:
                got = (w.shape[1] * m.groups, w.shape[0])
            assert (m.in_channels, m.out_channels) == got, (name, m.in_channels, m.out_channels, m.groups, tuple(w.shape))
            checked += 1
        elif hasattr(m, "in_features") and w is not None:
            assert (m.in_features, m.out_features) == (w.shape[1], w.shape[0]), (name, m.in_features, m.out_features, tuple(w.shape))
            checked += 1
        elif hasattr(m, "num_features") and getattr(m, "running_mean", None) is not None:
            assert m.num_features == m.running_mean.shape[0], (name, m.num_features, tuple(m.running_mean.shape))
            checked += 1
        elif hasattr(m, "normalized_shape") and w is not None:
            assert tuple(m.normalized_shape) == tuple(w.shape), (name, tuple(m.normalized_shape), tuple(w.shape))
            checked += 1
    return checked
)";

const char kPythonDeployCheck[] = R"(
import collections
import torch

_UNOPTIMIZED = ("aten::batch_norm", "aten::conv1d", "aten::conv2d", "aten::conv3d",
                "aten::_convolution")


def _deployed(module):
    return torch.jit.optimize_for_inference(torch.jit.freeze(module.eval()))


def _unoptimized_ops(module):
    return collections.Counter(n.kind() for k in _UNOPTIMIZED for n in module.graph.findAllNodes(k))


def check_deploys_like(original, pruned, x, first):
    try:
        reference = _deployed(original)
        reference(x)
    except RuntimeError:
        return None  # LibTorch cannot deploy the original either
    frozen = torch.jit.freeze(pruned.eval())
    y, z = first(pruned(x)), first(frozen(x))
    err, scale = (y - z).abs().max().item(), y.abs().max().item()
    assert err <= 1e-4 * scale, ("frozen output differs", err, scale)
    # Not compared: optimize_for_inference's outputs. LibTorch 1.13's oneDNN
    # hardtanh (ReLU6) is wrong on channel counts that are not multiples of
    # the SIMD block (16 with AVX-512); the engine checks and reports that.
    deployed = torch.jit.optimize_for_inference(frozen)
    want, got = _unoptimized_ops(reference), _unoptimized_ops(deployed)
    assert all(got[k] <= want[k] for k in got), ("freezing folds less of the pruned model", got, want)
    return sum(got.values())
)";

}  // namespace prune::engine::testing
