#include "test_support.h"

#include <execinfo.h>
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
void PrintStackAndDie(int signal_number) {
  static const char kHeader[] = "\n*** fatal signal; stack:\n";
  (void)!write(STDERR_FILENO, kHeader, sizeof(kHeader) - 1);
  void* frames[64];
  backtrace_symbols_fd(frames, backtrace(frames, 64), STDERR_FILENO);
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

[[maybe_unused]] const bool kStackOnCrash = [] {
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(s, PrintStackAndDie);
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

}  // namespace prune::engine::testing
