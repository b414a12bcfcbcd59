// The job sandbox without a database: the child-process launcher with real
// programs (sh, python3) under real limits, the classification of how a child
// ended, the child's environment and messages, and the tenant error texts.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "workers/runner/child_environment.h"
#include "workers/runner/job_child_protocol.h"
#include "workers/runner/job_failure.h"
#include "workers/runner/sandboxed_process.h"
#include "workers/runner/sandboxed_prune_runner.h"

namespace prune::worker {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/prune-sandbox-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  ChildExit RunToEnd(const std::vector<std::string>& argv, const SandboxLimits& limits,
                     const std::vector<std::string>& env = {"PATH=/usr/bin:/bin"}) {
    auto process = SandboxedProcess::Start(argv, env, dir_, dir_ + "/log", limits);
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return {};
    isolation_ = process->network_isolation();
    return process->Wait();
  }
  std::string Log() {
    std::ifstream in(dir_ + "/log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string dir_;
  std::string isolation_;
};

TEST_F(SandboxTest, MemoryLimitRefusesAllocationsPastIt) {
  SandboxLimits limits;
  limits.memory_bytes = 256 * kMiB;
  const ChildExit exit = RunToEnd(
      {"/usr/bin/python3", "-c",
       "import sys\ntry:\n  b = bytearray(1 << 31)\nexcept MemoryError:\n  sys.exit(42)\n"},
      limits);
  EXPECT_TRUE(exit.exited);
  EXPECT_EQ(exit.exit_code, 42) << Log();
  EXPECT_LT(exit.peak_rss_bytes, 256 * kMiB);
}

TEST_F(SandboxTest, CrashIsReportedWithItsSignal) {
  const ChildExit exit = RunToEnd(
      {"/usr/bin/python3", "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"}, {});
  EXPECT_FALSE(exit.exited);
  EXPECT_EQ(exit.signal, SIGSEGV);
  EXPECT_EQ(SignalName(exit.signal), "SIGSEGV");
}

TEST_F(SandboxTest, CpuLimitStopsASpinningChild) {
  SandboxLimits limits;
  limits.cpu_seconds = 1;
  const ChildExit exit = RunToEnd({"/bin/sh", "-c", "while :; do :; done"}, limits);
  EXPECT_EQ(exit.signal, SIGXCPU);
  EXPECT_GE(exit.cpu_seconds, 0.5);  // rusage samples CPU time; the limit is exact
  EXPECT_EQ(ClassifyChildRun({exit, false, std::nullopt}, limits).code, "JOB_TIME_LIMIT_EXCEEDED");
}

TEST_F(SandboxTest, OutputLimitStopsALargeFile) {
  SandboxLimits limits;
  limits.max_file_bytes = kMiB;
  // `exec`: the shell becomes the writer (Python would ignore SIGXFSZ).
  const ChildExit direct =
      RunToEnd({"/bin/sh", "-c", "exec head -c 4000000 /dev/zero > big2"}, limits);
  EXPECT_EQ(direct.signal, SIGXFSZ);
  EXPECT_EQ(ClassifyChildRun({direct, false, std::nullopt}, limits).code,
            "JOB_OUTPUT_LIMIT_EXCEEDED");
  std::ifstream big(dir_ + "/big2", std::ios::ate | std::ios::binary);
  EXPECT_LE(static_cast<int64_t>(big.tellg()), kMiB);
}

// What a model's code could reach: no network (not even loopback), none of
// the worker's environment, none of its open descriptors.
TEST_F(SandboxTest, ChildFindsNoNetworkNoSecretsNoDescriptors) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  socklen_t length = sizeof(address);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);
  // A descriptor without close-on-exec, as a careless library would leave.
  const int leaked = open("/dev/null", O_RDONLY);
  ASSERT_GE(leaked, 0);

  const std::vector<std::string> worker_env = {
      "PATH=/usr/bin:/bin", "PRUNE_DATABASE_URL=postgresql://prune:hunter2@db/prune",
      "PRUNE_TOKEN=prn_secret", "AWS_SECRET_ACCESS_KEY=s3cr3t", "OMP_NUM_THREADS=1"};
  const std::string probe = absl::StrCat(
      "import os, socket\n"
      "print('env', sorted(os.environ))\n"
      "print('secret-visible', any('hunter2' in v or 's3cr3t' in v or 'prn_secret' in v "
      "for v in os.environ.values()))\n"
      "try:\n"
      "  s = socket.create_connection(('127.0.0.1', ",
      port,
      "), timeout=2)\n"
      "  print('network', 'connected')\n"
      "except OSError as e:\n"
      "  print('network', 'refused', e.errno)\n"
      "fds = []\n"
      "for fd in range(3, 1024):\n"
      "  try:\n"
      "    os.fstat(fd); fds.append(fd)\n"
      "  except OSError:\n"
      "    pass\n"
      "print('fds', fds)\n");
  const ChildExit exit = RunToEnd({"/usr/bin/python3", "-c", probe}, SandboxLimits{},
                                  ChildEnvironment(worker_env, dir_));
  close(leaked);
  close(listener);
  const std::string log = Log();
  ASSERT_TRUE(exit.exited && exit.exit_code == 0) << log;
  EXPECT_TRUE(absl::StrContains(log, "secret-visible False")) << log;
  EXPECT_FALSE(absl::StrContains(log, "PRUNE_DATABASE_URL")) << log;
  EXPECT_TRUE(absl::StrContains(log, "OMP_NUM_THREADS")) << log;
  EXPECT_TRUE(absl::StrContains(log, "network refused")) << log;
  EXPECT_TRUE(absl::StrContains(log, "fds []")) << log;
  EXPECT_NE(isolation_, "none");
}

TEST_F(SandboxTest, NetworkMayBeAllowedExplicitly) {
  SandboxLimits limits;
  limits.deny_network = false;
  const ChildExit exit = RunToEnd(
      {"/usr/bin/python3", "-c", "import socket; socket.socket(socket.AF_INET).close()"}, limits);
  EXPECT_TRUE(exit.exited && exit.exit_code == 0) << Log();
  EXPECT_EQ(isolation_, "none");
}

TEST_F(SandboxTest, MissingProgramIsAnErrorNotAChild) {
  auto process = SandboxedProcess::Start({"/nonexistent/prune-job-child"}, {}, dir_, dir_ + "/log",
                                         SandboxLimits{});
  EXPECT_FALSE(process.ok());
  auto relative = SandboxedProcess::Start({"prune-job-child"}, {}, dir_, dir_ + "/log", {});
  EXPECT_FALSE(relative.ok());
}

TEST(ClassifyChildRun, TurnsEndingsIntoDomainReasons) {
  SandboxLimits limits;
  limits.memory_bytes = 1024 * kMiB;
  limits.cpu_seconds = 60;
  ChildExit crashed;
  crashed.signal = SIGSEGV;
  crashed.peak_rss_bytes = 100 * kMiB;
  engine::Status status = ClassifyChildRun({crashed, false, std::nullopt}, limits);
  EXPECT_EQ(status.code, "MODEL_CRASHED");
  EXPECT_TRUE(absl::StrContains(status.message, "SIGSEGV")) << status.message;

  // A crash at the memory limit is the limit's doing.
  ChildExit killed_full = crashed;
  killed_full.signal = SIGKILL;
  killed_full.peak_rss_bytes = 1000 * kMiB;
  EXPECT_EQ(ClassifyChildRun({killed_full, false, std::nullopt}, limits).code,
            "JOB_MEMORY_LIMIT_EXCEEDED");

  // LibTorch's refusal of a huge allocation arrives as the engine's error.
  ChildExit clean;
  clean.exited = true;
  status = ClassifyChildRun(
      {clean, false,
       engine::Status{"MODEL_LOAD_FAILED",
                      "forward failed: [enforce fail at alloc_cpu.cpp:75] DefaultCPUAllocator: "
                      "can't allocate memory: you tried to allocate 4398046511104 bytes. Error "
                      "code 12 (Cannot allocate memory)"}},
      limits);
  EXPECT_EQ(status.code, "JOB_MEMORY_LIMIT_EXCEEDED");
  EXPECT_TRUE(absl::StrContains(status.message, "1.0 GiB")) << status.message;
  EXPECT_TRUE(absl::StrContains(status.message, "4096.0 GiB")) << status.message;

  // Stopped by the worker (cancel, time limit, shutdown): whatever the signal.
  ChildExit terminated;
  terminated.signal = SIGKILL;
  EXPECT_EQ(ClassifyChildRun({terminated, true, std::nullopt}, limits).code, "CANCELLED");
  // The engine's own verdicts pass through.
  EXPECT_EQ(ClassifyChildRun({clean, false, engine::Status{"TARGET_UNREACHABLE", "no"}}, limits)
                .code,
            "TARGET_UNREACHABLE");
  EXPECT_TRUE(ClassifyChildRun({clean, false, engine::Status{}}, limits).ok());
  // Exiting without a result is the sandbox's problem, retried elsewhere.
  clean.exit_code = 3;
  EXPECT_EQ(ClassifyChildRun({clean, false, std::nullopt}, limits).code, "ENGINE_ERROR");
}

TEST(ChildEnvironment, KeepsRuntimeKnobsDropsSecrets) {
  const std::vector<std::string> env = ChildEnvironment(
      {"PATH=/bin", "PRUNE_DATABASE_URL=postgresql://x", "PRUNE_TOKEN=t", "LD_PRELOAD=/j.so",
       "OMP_NUM_THREADS=2", "OPENBLAS_CORETYPE=Haswell", "CUDA_VISIBLE_DEVICES=0", "HOME=/root",
       "PGPASSWORD=p", "malformed", "=empty"},
      "/scratch/j-1");
  const auto has = [&env](const std::string& entry) {
    return std::find(env.begin(), env.end(), entry) != env.end();
  };
  EXPECT_TRUE(has("PATH=/bin"));
  EXPECT_TRUE(has("LD_PRELOAD=/j.so"));
  EXPECT_TRUE(has("OMP_NUM_THREADS=2"));
  EXPECT_TRUE(has("OPENBLAS_CORETYPE=Haswell"));
  EXPECT_TRUE(has("CUDA_VISIBLE_DEVICES=0"));
  EXPECT_TRUE(has("HOME=/scratch/j-1"));
  EXPECT_TRUE(has("TMPDIR=/scratch/j-1"));
  EXPECT_EQ(env.size(), 7u);
}

TEST(ChildProtocol, RoundTripsAndRejectsJunk) {
  auto progress = DecodeChildMessage(EncodeProgressMessage({"search", 0.5, "episode 3"}));
  ASSERT_TRUE(progress.has_value());
  EXPECT_EQ(progress->kind, ChildMessage::Kind::kProgress);
  EXPECT_EQ(progress->progress.stage, "search");
  EXPECT_DOUBLE_EQ(progress->progress.fraction, 0.5);
  auto result = DecodeChildMessage(EncodeResultMessage({"", ""}, "report.json", 0.49));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->kind, ChildMessage::Kind::kResult);
  EXPECT_TRUE(result->status.ok());
  EXPECT_EQ(result->file, "report.json");
  auto checkpoint = DecodeChildMessage(EncodeCheckpointMessage("checkpoint-1.bin"));
  ASSERT_TRUE(checkpoint.has_value());
  EXPECT_EQ(checkpoint->file, "checkpoint-1.bin");
  // The child runs a tenant's model: nothing it says may name a file
  // outside its scratch folder.
  EXPECT_FALSE(DecodeChildMessage(R"({"checkpoint":"../../etc/passwd"})"));
  EXPECT_FALSE(DecodeChildMessage(R"({"checkpoint":"/etc/passwd"})"));
  EXPECT_FALSE(DecodeChildMessage(R"({"result":{"code":"","message":"","report":"../x",)"
                                  R"("macs_ratio":1}})"));
  EXPECT_FALSE(DecodeChildMessage("not json"));
  EXPECT_FALSE(DecodeChildMessage(R"({"progress":{"stage":1}})"));
  EXPECT_FALSE(DecodeChildMessage(R"([1,2])"));
  // A fraction out of range is clamped, not trusted.
  auto wild = DecodeChildMessage(R"({"progress":{"stage":"s","fraction":7,"message":""}})");
  ASSERT_TRUE(wild.has_value());
  EXPECT_DOUBLE_EQ(wild->progress.fraction, 1.0);
}

TEST(TenantErrorText, DropsFramesAddressesAndPaths) {
  const std::string libtorch_error =
      "MODEL_LOAD_FAILED: cannot run forward: The following operation failed in the TorchScript "
      "interpreter.\n"
      "Traceback of TorchScript, serialized code (most recent call last):\n"
      "  File \"code/__torch__.py\", line 12, in forward\n"
      "    y = self.conv(x)\n"
      "    _0 = torch.searchsorted(y, x)\n"
      "         ~~~~~~~~~~~~~~~~~~ <--- HERE\n"
      "RuntimeError: boundaries tensor must be 1 dimension, but got dim(2)\n"
      "Exception raised from searchsorted_pre_check at "
      "/build/pytorch/aten/src/ATen/native/Bucketization.cpp:120 (most recent call first):\n"
      "frame #0: c10::Error::Error(c10::SourceLocation, std::string) + 0x3e (0x7f2a1c0b4e0e in "
      "/usr/lib/x86_64-linux-gnu/libc10.so.1.13)\n"
      "frame #1: <unknown function> + 0x1234 (0x7f2a1c0b5000 in /usr/lib/libtorch_cpu.so)\n";
  const std::string text = TenantErrorText(libtorch_error);
  EXPECT_EQ(text,
            "the model raised RuntimeError: boundaries tensor must be 1 dimension, but got "
            "dim(2) (forward, code/__torch__.py line 12)");

  const std::string plain = TenantErrorText(
      "cannot read /tmp/prune-worker/3f2a-1/dataset.pt: not a zip archive\n"
      "frame #3: 0x00007f00deadbeef\n");
  EXPECT_EQ(plain, "cannot read dataset.pt: not a zip archive");

  const std::string huge = TenantErrorText(std::string(100000, 'x'));
  EXPECT_LE(huge.size(), kMaxTenantErrorBytes + 4);
}

TEST(FailureReasons, EngineCodesBecomeDomainReasons) {
  EXPECT_EQ(DomainReason("INVALID_ARGUMENT"), "JOB_SPEC_INVALID");
  EXPECT_EQ(DomainReason("INTERNAL"), "ENGINE_ERROR");
  EXPECT_EQ(DomainReason("SOMETHING_NEW"), "ENGINE_ERROR");
  EXPECT_EQ(DomainReason("MODEL_CRASHED"), "MODEL_CRASHED");
  EXPECT_TRUE(IsRetryableReason("ENGINE_ERROR"));
  EXPECT_FALSE(IsRetryableReason("JOB_MEMORY_LIMIT_EXCEEDED"));
  EXPECT_FALSE(IsRetryableReason("MODEL_CRASHED"));
  // No reason is a bare gRPC code name.
  for (const FailureReason& reason : FailureReasons()) {
    for (const char* grpc_code : {"INVALID_ARGUMENT", "INTERNAL", "UNKNOWN", "NOT_FOUND",
                                  "FAILED_PRECONDITION", "RESOURCE_EXHAUSTED", "CANCELLED"}) {
      EXPECT_NE(std::string(reason.name), grpc_code);
    }
  }
}

// Every reason a job can fail with is documented, and nothing else is.
TEST(FailureReasons, MatchTheDocumentedList) {
  std::ifstream doc(PRUNE_ERRORS_DOC);
  ASSERT_TRUE(doc) << PRUNE_ERRORS_DOC;
  const std::string text(std::istreambuf_iterator<char>(doc), {});
  for (const FailureReason& reason : FailureReasons()) {
    EXPECT_TRUE(absl::StrContains(text, absl::StrCat("`", reason.name, "`")))
        << reason.name << " is not documented in docs/ERRORS.md";
  }
}

}  // namespace
}  // namespace prune::worker
