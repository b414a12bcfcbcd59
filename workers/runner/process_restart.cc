#include "workers/runner/process_restart.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

namespace prune::worker {

void ReExecSelf(char** argv) {
  const long max_fd = sysconf(_SC_OPEN_MAX);
  // close_range() needs glibc 2.34 and a 5.9 kernel; a plain loop is cheap
  // enough for a once-per-incident restart.
  for (long fd = 3; fd < (max_fd > 0 ? max_fd : 1024); ++fd) close(static_cast<int>(fd));
  execv("/proc/self/exe", argv);
  std::cerr << "prune-worker: cannot re-execute itself: " << std::strerror(errno) << "\n";
}

}  // namespace prune::worker
