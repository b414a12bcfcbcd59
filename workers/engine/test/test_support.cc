#include "test_support.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace prune::engine::testing {

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

}  // namespace prune::engine::testing
