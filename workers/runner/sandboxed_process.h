// Starts a program in a child process with the limits of a job sandbox and
// waits for it. Used to run the engine on a tenant's model (the model is code:
// TorchScript, a LibTorch with its own bugs) so that whatever the model does
// stays inside the child: memory, CPU time, files, network, the worker's
// secrets. Linux only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace prune::worker {

struct SandboxLimits {
  // RLIMIT_DATA: private writable memory (heap, anonymous mmaps, thread
  // stacks), so an allocation past it fails with ENOMEM inside the child.
  // RLIMIT_AS would also count shared libraries and the huge PROT_NONE
  // reservations of CUDA, so it is not used. 0: no limit.
  int64_t memory_bytes = 0;
  // RLIMIT_CPU (user + system seconds of all the child's threads): SIGXCPU
  // at the limit, SIGKILL a second later. 0: no limit.
  int64_t cpu_seconds = 0;
  // RLIMIT_FSIZE: no file the child writes may grow past this (SIGXFSZ).
  // 0: no limit.
  int64_t max_file_bytes = 0;
  // Refuse network sockets: a network namespace of its own where the kernel
  // allows it without privileges, plus a seccomp filter that fails socket()
  // for every family but AF_UNIX (works unprivileged everywhere).
  bool deny_network = true;
};

// How the child ended.
struct ChildExit {
  bool exited = false;  // exited on its own (exit_code valid), else killed by `signal`
  int exit_code = 0;
  int signal = 0;
  int64_t peak_rss_bytes = 0;  // the child's maximum resident set (getrusage)
  double cpu_seconds = 0;      // user + system
};

class SandboxedProcess {
 public:
  // Starts argv[0] (an absolute path) with exactly `env` as its environment,
  // `work_dir` as its working directory, stdin from /dev/null, stdout and
  // stderr appended to `log_path`, and `pass_fd` (if >= 0) as its fd 3.
  // No other descriptor is inherited. The child leads a process group of its
  // own and is killed if the thread that started it dies.
  static absl::StatusOr<SandboxedProcess> Start(const std::vector<std::string>& argv,
                                                const std::vector<std::string>& env,
                                                const std::string& work_dir,
                                                const std::string& log_path,
                                                const SandboxLimits& limits, int pass_fd = -1);

  SandboxedProcess(SandboxedProcess&& other) noexcept;
  SandboxedProcess& operator=(SandboxedProcess&&) = delete;
  SandboxedProcess(const SandboxedProcess&) = delete;
  ~SandboxedProcess();  // kills and reaps a child still running

  pid_t pid() const { return pid_; }
  // Sends `signal` to the child's process group.
  void Signal(int signal) const;
  // Reaps the child if it has ended (returns true and fills *exit), without
  // blocking.
  bool TryWait(ChildExit* exit);
  // Blocks until the child ends.
  ChildExit Wait();
  // What network isolation was applied: "network namespace and seccomp",
  // "seccomp", or "none" (deny_network off).
  const std::string& network_isolation() const { return network_isolation_; }

 private:
  SandboxedProcess(pid_t pid, std::string network_isolation)
      : pid_(pid), network_isolation_(std::move(network_isolation)) {}
  bool Reap(int options, ChildExit* exit);

  pid_t pid_ = -1;  // -1 once reaped
  std::string network_isolation_;
};

// "SIGSEGV", "SIGKILL", ... (or "signal N").
std::string SignalName(int signal);

}  // namespace prune::worker
