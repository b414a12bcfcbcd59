#include "workers/runner/sandboxed_process.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace prune::worker {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#endif

// Byte the child writes to the status pipe before exec: which network
// isolation it has. After a failed exec it writes kExecFailed and errno.
constexpr char kIsolationNamespace = 'N';
constexpr char kIsolationSeccompOnly = 'S';
constexpr char kIsolationNone = '-';
constexpr char kExecFailed = 'E';

#if defined(__x86_64__) || defined(__aarch64__)
// socket() fails with EACCES for every address family but AF_UNIX, and so
// does io_uring_setup (io_uring can open sockets without socket()). x32
// system calls and foreign architectures are refused outright. Everything
// else is allowed: the filter is about the network, not a full syscall jail.
constexpr sock_filter kNetworkFilter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 5, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 4, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 2),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA)),
};
constexpr bool kHaveNetworkFilter = true;
#else
constexpr sock_filter kNetworkFilter[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
constexpr bool kHaveNetworkFilter = false;
#endif

void SetLimit(int resource, int64_t value) {
  if (value <= 0) return;
  rlimit limit{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
  if (resource == RLIMIT_CPU) limit.rlim_max = static_cast<rlim_t>(value) + 1;  // SIGXCPU first
  setrlimit(resource, &limit);
}

// Closes every descriptor from `first` on except `keep`.
void CloseDescriptorsFrom(int first, int keep) {
#ifdef SYS_close_range
  const bool ranged = keep < first
                          ? syscall(SYS_close_range, first, ~0U, 0) == 0
                          : syscall(SYS_close_range, first, keep - 1, 0) == 0 &&
                                syscall(SYS_close_range, keep + 1, ~0U, 0) == 0;
  if (ranged) return;
#endif
  rlimit files{};
  const long max_fd = getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY
                          ? static_cast<long>(files.rlim_cur)
                          : 65536;
  for (long fd = first; fd < max_fd; ++fd) {
    if (fd != keep) close(static_cast<int>(fd));
  }
}

void WriteAll(int fd, const void* data, size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = write(fd, bytes, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    bytes += n;
    size -= static_cast<size_t>(n);
  }
}

// Runs in the forked child: only async-signal-safe calls until execve.
[[noreturn]] void ExecInChild(char* const argv[], char* const envp[], const char* work_dir,
                              const char* log_path, const SandboxLimits& limits, int pass_fd,
                              int status_fd, pid_t parent) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the parent died before the line above

  // Descriptors: 0 from /dev/null, 1 and 2 to the log, 3 = pass_fd.
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (null_fd < 0 || log_fd < 0) {
    const int error = errno;
    WriteAll(status_fd, &kExecFailed, 1);
    WriteAll(status_fd, &error, sizeof(error));
    _exit(127);
  }
  dup2(null_fd, 0);
  dup2(log_fd, 1);
  dup2(log_fd, 2);
  if (pass_fd >= 0) {
    if (pass_fd == 3) {
      fcntl(3, F_SETFD, 0);  // dup2 onto itself would keep FD_CLOEXEC
    } else {
      dup2(pass_fd, 3);
    }
  }
  // The status pipe must survive the clean-up; it closes on exec.
  int keep = status_fd;
  if (keep <= 3) {
    keep = fcntl(status_fd, F_DUPFD_CLOEXEC, 4);
  }
  CloseDescriptorsFrom(pass_fd >= 0 ? 4 : 3, keep);
  status_fd = keep;

  // The worker blocks SIGTERM / SIGINT for its signal thread and gRPC
  // ignores SIGPIPE; the engine must see them as a fresh process would.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    if (signal_number != SIGKILL && signal_number != SIGSTOP) signal(signal_number, SIG_DFL);
  }

  SetLimit(RLIMIT_DATA, limits.memory_bytes);
  SetLimit(RLIMIT_CPU, limits.cpu_seconds);
  SetLimit(RLIMIT_FSIZE, limits.max_file_bytes);
  rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);  // no core dump holding a tenant's model

  char isolation = kIsolationNone;
  if (limits.deny_network) {
    // Root may create a network namespace directly; others need a user
    // namespace first (allowed unprivileged on most distributions).
    const bool own_namespace = geteuid() == 0 ? unshare(CLONE_NEWNET) == 0
                                              : unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0;
    sock_fprog program{static_cast<unsigned short>(sizeof(kNetworkFilter) / sizeof(sock_filter)),
                       const_cast<sock_filter*>(kNetworkFilter)};
    const bool filtered = kHaveNetworkFilter && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
                          syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) == 0;
    if (own_namespace && filtered) {
      isolation = kIsolationNamespace;
    } else if (filtered) {
      isolation = kIsolationSeccompOnly;
    } else if (own_namespace) {
      isolation = kIsolationNamespace;  // unreachable in practice: seccomp is older than netns
    }
  } else {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  }
  if (chdir(work_dir) != 0) {
    const int error = errno;
    WriteAll(status_fd, &kExecFailed, 1);
    WriteAll(status_fd, &error, sizeof(error));
    _exit(127);
  }
  WriteAll(status_fd, &isolation, 1);
  execve(argv[0], argv, envp);
  const int error = errno;
  WriteAll(status_fd, &kExecFailed, 1);
  WriteAll(status_fd, &error, sizeof(error));
  _exit(127);
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

std::string SignalName(int signal) {
  switch (signal) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGILL:
      return "SIGILL";
    case SIGFPE:
      return "SIGFPE";
    case SIGABRT:
      return "SIGABRT";
    case SIGKILL:
      return "SIGKILL";
    case SIGTERM:
      return "SIGTERM";
    case SIGXCPU:
      return "SIGXCPU";
    case SIGXFSZ:
      return "SIGXFSZ";
    case SIGSYS:
      return "SIGSYS";
    case SIGPIPE:
      return "SIGPIPE";
    default:
      return absl::StrCat("signal ", signal);
  }
}

absl::StatusOr<SandboxedProcess> SandboxedProcess::Start(const std::vector<std::string>& argv,
                                                         const std::vector<std::string>& env,
                                                         const std::string& work_dir,
                                                         const std::string& log_path,
                                                         const SandboxLimits& limits,
                                                         int pass_fd) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/') {
    return absl::InvalidArgumentError("the sandboxed program needs an absolute path");
  }
  // Everything the child needs is allocated before fork: after it, a child
  // of a multi-threaded process may only make async-signal-safe calls.
  std::vector<char*> c_argv = CStrings(argv);
  std::vector<char*> c_env = CStrings(env);
  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int error = errno;
    close(status_pipe[0]);
    close(status_pipe[1]);
    return absl::ResourceExhaustedError(absl::StrCat("fork: ", std::strerror(error)));
  }
  if (pid == 0) {
    close(status_pipe[0]);
    ExecInChild(c_argv.data(), c_env.data(), work_dir.c_str(), log_path.c_str(), limits, pass_fd,
                status_pipe[1], parent);
  }
  close(status_pipe[1]);
  // The isolation byte, then EOF (exec succeeded) or kExecFailed + errno.
  char buffer[1 + 1 + sizeof(int)];
  size_t got = 0;
  while (got < sizeof(buffer)) {
    const ssize_t n = read(status_pipe[0], buffer + got, sizeof(buffer) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(status_pipe[0]);
  SandboxedProcess process(pid, "none");
  const char* failure = nullptr;
  if (got >= 1 && buffer[0] == kExecFailed) failure = buffer + 1;
  if (got >= 2 && buffer[1] == kExecFailed) failure = buffer + 2;
  if (failure != nullptr || got == 0) {
    int error = 0;
    if (failure != nullptr && static_cast<size_t>(failure - buffer) + sizeof(int) <= got) {
      std::memcpy(&error, failure, sizeof(int));
    }
    process.Wait();
    return absl::InternalError(absl::StrCat("cannot start ", argv[0], ": ",
                                            error != 0 ? std::strerror(error) : "child died"));
  }
  switch (buffer[0]) {
    case kIsolationNamespace:
      process.network_isolation_ = "network namespace and seccomp";
      break;
    case kIsolationSeccompOnly:
      process.network_isolation_ = "seccomp";
      break;
    default:
      process.network_isolation_ = "none";
  }
  return process;
}

SandboxedProcess::SandboxedProcess(SandboxedProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      network_isolation_(std::move(other.network_isolation_)) {}

SandboxedProcess::~SandboxedProcess() {
  if (pid_ > 0) {
    Signal(SIGKILL);
    Wait();
  }
}

void SandboxedProcess::Signal(int signal) const {
  if (pid_ <= 0) return;
  // The group first (the child's own helpers); the child itself in case it
  // has not called setpgid yet.
  kill(-pid_, signal);
  kill(pid_, signal);
}

bool SandboxedProcess::Reap(int options, ChildExit* exit) {
  if (pid_ <= 0) return false;
  int status = 0;
  rusage usage{};
  pid_t reaped;
  do {
    reaped = wait4(pid_, &status, options, &usage);
  } while (reaped < 0 && errno == EINTR);
  if (reaped != pid_) return false;
  pid_ = -1;
  exit->exited = WIFEXITED(status);
  exit->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
  exit->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  exit->peak_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux: KiB
  exit->cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                      static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  return true;
}

bool SandboxedProcess::TryWait(ChildExit* exit) { return Reap(WNOHANG, exit); }

ChildExit SandboxedProcess::Wait() {
  ChildExit exit;
  Reap(0, &exit);
  return exit;
}

}  // namespace prune::worker
