// Test helper: runs `promtool check metrics` over exposition text.
#ifndef PRUNE_COMMON_METRICS_PROMTOOL_CHECK_H_
#define PRUNE_COMMON_METRICS_PROMTOOL_CHECK_H_

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace prune::metrics::testing {

// Set by CMake (find_program); empty when promtool is not installed.
inline std::string PromtoolPath() { return PRUNE_PROMTOOL; }

struct PromtoolResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr: one line per problem
};

// Both an exit code != 0 and any output count as failure: promtool prints lint
// problems (missing HELP, counters without _total, ...) and parse errors.
inline PromtoolResult RunPromtoolCheckMetrics(const std::string& exposition) {
  char path[] = "/tmp/prune_metrics_promtool_XXXXXX";
  const int fd = mkstemp(path);
  PromtoolResult result;
  if (fd < 0) {
    result.output = "mkstemp failed";
    return result;
  }
  close(fd);
  {
    std::ofstream file(path, std::ios::binary);
    file << exposition;
  }
  const std::string command =
      "'" + PromtoolPath() + "' check metrics < '" + std::string(path) + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    unlink(path);
    result.output = "popen failed";
    return result;
  }
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), n);
  }
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  unlink(path);
  return result;
}

inline void PrintLoudPromtoolMissing() {
  std::fprintf(stderr,
               "\n**********************************************************************\n"
               "* promtool NOT FOUND: skipping `promtool check metrics`.              *\n"
               "* Install it with `apt-get install prometheus` (install-deps does).   *\n"
               "**********************************************************************\n\n");
}

}  // namespace prune::metrics::testing

#endif  // PRUNE_COMMON_METRICS_PROMTOOL_CHECK_H_
