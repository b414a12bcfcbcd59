#include "workers/runner/sandboxed_prune_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <regex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "prune/engine/job_spec_codec.h"
#include "spdlog/spdlog.h"
#include "workers/runner/child_environment.h"
#include "workers/runner/job_child_protocol.h"

namespace prune::worker {
namespace {

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

std::string HumanBytes(int64_t bytes) {
  const double value = static_cast<double>(bytes);
  if (value >= 1024.0 * 1024 * 1024) return absl::StrFormat("%.1f GiB", value / (1 << 30));
  return absl::StrFormat("%.0f MiB", value / (1 << 20));
}

bool WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  return static_cast<bool>(out);
}

// Reads at most `limit` bytes of `path`; false if it is missing or larger.
bool ReadBoundedFile(const std::string& path, int64_t limit, std::string* content) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return false;
  const std::streamoff size = in.tellg();
  if (size < 0 || (limit > 0 && size > limit)) return false;
  in.seekg(0);
  content->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return static_cast<bool>(in) || in.eof();
}

// The last `bytes` of the child's log, for the worker's log.
std::string LogTail(const std::string& path, int64_t bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - bytes));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int64_t ReadCgroupLimit(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text)) return 0;
  int64_t value = 0;
  return absl::SimpleAtoi(text, &value) && value > 0 ? value : 0;  // "max": none
}

engine::Status MemoryExceeded(const SandboxLimits& limits, const std::string& message) {
  std::string asked;
  static const std::regex kAsked(R"(tried to allocate (\d+) bytes)");
  std::smatch match;
  int64_t bytes = 0;
  if (std::regex_search(message, match, kAsked) && absl::SimpleAtoi(match[1].str(), &bytes)) {
    asked = absl::StrCat("; the model asked for ", HumanBytes(bytes), " at once");
  }
  return {"JOB_MEMORY_LIMIT_EXCEEDED",
          absl::StrCat("the job needed more memory than its limit of ",
                       HumanBytes(limits.memory_bytes), " (the worker's --job-memory-limit)",
                       asked,
                       ". Use a smaller latency batch size or input shape, or ask the operator "
                       "for workers with a larger limit")};
}

// Reads the child's messages until the pipe closes (the child is gone) or
// `stop` is set and nothing more arrives; hands each one to `on_message`.
void ReadMessages(int fd, const std::atomic<bool>& child_gone,
                  const std::function<void(const ChildMessage&)>& on_message) {
  constexpr size_t kMaxLine = 256 * 1024;  // longer lines are dropped whole
  std::string line;
  bool overlong = false;
  char buffer[8192];
  int idle_after_exit_ms = 0;
  for (;;) {
    pollfd readable{fd, POLLIN, 0};
    const int ready = poll(&readable, 1, 50);
    if (ready == 0) {
      if (child_gone.load() && (idle_after_exit_ms += 50) >= 1000) return;  // a grandchild holds it
      continue;
    }
    if (ready < 0 && errno == EINTR) continue;
    const ssize_t n = ready < 0 ? -1 : read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    for (ssize_t i = 0; i < n; ++i) {
      if (buffer[i] != '\n') {
        if (line.size() < kMaxLine) {
          line += buffer[i];
        } else {
          overlong = true;
        }
        continue;
      }
      if (!overlong) {
        if (std::optional<ChildMessage> message = DecodeChildMessage(line)) on_message(*message);
      }
      line.clear();
      overlong = false;
    }
  }
}

}  // namespace

bool IsOutOfMemoryMessage(const std::string& message) {
  for (const char* marker : {"can't allocate memory", "not enough memory", "bad_alloc",
                             "Cannot allocate memory", "out of memory", "Out of memory"}) {
    if (absl::StrContains(message, marker)) return true;
  }
  return false;
}

int64_t DefaultJobMemoryLimit() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  int64_t usable = pages > 0 && page_size > 0 ? static_cast<int64_t>(pages) * page_size : 0;
  for (const char* cgroup : {"/sys/fs/cgroup/memory.max",  // cgroup v2
                             "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    const int64_t limit = ReadCgroupLimit(cgroup);
    if (limit > 0 && (usable == 0 || limit < usable)) usable = limit;
  }
  return usable / 10 * 8;
}

engine::Status ClassifyChildRun(const ChildRun& run, const SandboxLimits& limits) {
  if (run.result) {
    const engine::Status& status = *run.result;
    if (!status.ok() && status.code != "CANCELLED" && limits.memory_bytes > 0 &&
        IsOutOfMemoryMessage(status.message)) {
      return MemoryExceeded(limits, status.message);
    }
    return status;
  }
  if (run.stopped_by_worker) return {"CANCELLED", "the job's engine process was stopped"};
  const ChildExit& exit = run.exit;
  if (exit.exited) {
    return {"ENGINE_ERROR", absl::StrCat("the engine process exited with code ", exit.exit_code,
                                         " without a result")};
  }
  const int signal_number = exit.signal;
  if (signal_number == SIGXCPU ||
      (signal_number == SIGKILL && limits.cpu_seconds > 0 &&
       exit.cpu_seconds >= static_cast<double>(limits.cpu_seconds))) {
    return {"JOB_TIME_LIMIT_EXCEEDED",
            absl::StrCat("the job used its CPU-time limit of ", limits.cpu_seconds,
                         " s (the worker's --job-cpu-limit) and was stopped")};
  }
  if (signal_number == SIGXFSZ) {
    return {"JOB_OUTPUT_LIMIT_EXCEEDED",
            absl::StrCat("the job wrote a file larger than the output limit of ",
                         HumanBytes(limits.max_file_bytes), " (the worker's --job-max-output)")};
  }
  // An allocation that jemalloc or the kernel could not satisfy can end in
  // an abort or the OOM killer rather than an exception.
  if ((signal_number == SIGKILL || signal_number == SIGABRT || signal_number == SIGSEGV) &&
      limits.memory_bytes > 0 &&
      static_cast<double>(exit.peak_rss_bytes) >= 0.9 * static_cast<double>(limits.memory_bytes)) {
    return MemoryExceeded(limits, "");
  }
  return {"MODEL_CRASHED",
          absl::StrCat("the engine process running this model died with ",
                       SignalName(signal_number),
                       " (a crash inside LibTorch triggered by one of the model's operations). "
                       "The job is not retried; the worker and other jobs are unaffected")};
}

engine::Status SandboxedPruneRunner::Run(
    const engine::JobSpec& spec, const std::function<void(const engine::Progress&)>& on_progress,
    const engine::CancelToken& cancel, engine::JobOutcome* outcome) {
  const std::string dir = Dirname(spec.output_model_path);
  if (!WriteFile(absl::StrCat(dir, "/", kChildSpecFile), engine::EncodeJobSpec(spec)) ||
      (!spec.search_resume_state.empty() &&
       !WriteFile(absl::StrCat(dir, "/", kChildResumeFile), spec.search_resume_state))) {
    return {"ENGINE_ERROR", "cannot write the job's files for the engine process"};
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return {"ENGINE_ERROR", "cannot create a pipe"};
  const std::string log_path = absl::StrCat(dir, "/", kChildLogFile);
  absl::StatusOr<SandboxedProcess> process =
      SandboxedProcess::Start({options_.child_path, kChildSpecFile},
                              ChildEnvironment(CurrentEnvironment(), dir), dir, log_path,
                              options_.limits, pipe_fds[1]);
  close(pipe_fds[1]);
  if (!process.ok()) {
    close(pipe_fds[0]);
    spdlog::error("cannot start the job sandbox: {}", process.status().ToString());
    return {"ENGINE_ERROR", "the worker could not start the job's engine process"};
  }
  spdlog::info("engine process {} started (memory limit {}, CPU limit {} s, network isolation: {})",
               process->pid(),
               options_.limits.memory_bytes > 0 ? HumanBytes(options_.limits.memory_bytes) : "none",
               options_.limits.cpu_seconds, process->network_isolation());

  std::mutex result_mutex;
  std::optional<engine::Status> result;
  std::string report_file;
  double macs_ratio = 0;
  std::atomic<bool> child_gone{false};
  std::thread reader([&] {
    ReadMessages(pipe_fds[0], child_gone, [&](const ChildMessage& message) {
      switch (message.kind) {
        case ChildMessage::Kind::kProgress:
          on_progress(message.progress);
          break;
        case ChildMessage::Kind::kCheckpoint: {
          const std::string path = absl::StrCat(dir, "/", message.file);
          std::string state;
          if (spec.on_checkpoint && ReadBoundedFile(path, options_.limits.max_file_bytes, &state)) {
            spec.on_checkpoint(state);
          }
          unlink(path.c_str());
          break;
        }
        case ChildMessage::Kind::kResult: {
          std::lock_guard<std::mutex> lock(result_mutex);
          result = message.status;
          report_file = message.file;
          macs_ratio = message.macs_ratio;
          break;
        }
      }
    });
  });

  ChildRun run;
  bool killed = false;
  absl::Time stop_sent;
  while (!process->TryWait(&run.exit)) {
    if (cancel.cancelled() && !run.stopped_by_worker) {
      process->Signal(SIGTERM);
      run.stopped_by_worker = true;
      stop_sent = absl::Now();
    } else if (run.stopped_by_worker && !killed && absl::Now() - stop_sent > options_.kill_grace) {
      spdlog::warn("engine process {} ignored SIGTERM for {}: killing it", process->pid(),
                   absl::FormatDuration(options_.kill_grace));
      process->Signal(SIGKILL);
      killed = true;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  child_gone = true;
  reader.join();
  close(pipe_fds[0]);
  {
    std::lock_guard<std::mutex> lock(result_mutex);
    run.result = result;
  }
  engine::Status status = ClassifyChildRun(run, options_.limits);
  spdlog::info("engine process ended: {}; peak memory {}, CPU {:.1f} s",
               run.exit.exited ? absl::StrCat("exit code ", run.exit.exit_code)
                               : SignalName(run.exit.signal),
               HumanBytes(run.exit.peak_rss_bytes), run.exit.cpu_seconds);
  if (metrics_ != nullptr) {
    metrics_->job_peak_memory->Observe(static_cast<double>(run.exit.peak_rss_bytes));
    metrics_->job_cpu_seconds->Observe(run.exit.cpu_seconds);
  }
  if (!status.ok()) {
    if (status.code != "CANCELLED") {
      spdlog::warn("engine process output (last 4 KiB):\n{}", LogTail(log_path, 4096));
    }
    return status;
  }
  std::string report;
  if (report_file.empty() ||
      !ReadBoundedFile(absl::StrCat(dir, "/", report_file), options_.limits.max_file_bytes,
                       &report)) {
    return {"ENGINE_ERROR", "the engine process finished without a readable report"};
  }
  nlohmann::json parsed = nlohmann::json::parse(report, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return {"ENGINE_ERROR", "the engine process wrote a report that is not a JSON object"};
  }
  parsed["resources"] = {
      {"peak_memory_bytes", run.exit.peak_rss_bytes},
      {"cpu_seconds", run.exit.cpu_seconds},
      {"memory_limit_bytes", options_.limits.memory_bytes},
      {"cpu_limit_seconds", options_.limits.cpu_seconds},
      {"network_isolation", process->network_isolation()},
      {"sandboxed", true},
  };
  outcome->report_json = parsed.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  outcome->macs_ratio = macs_ratio;
  return status;
}

}  // namespace prune::worker
