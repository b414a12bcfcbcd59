// prune-job-child: runs one pruning job with the engine, inside the sandbox
// that prune-worker sets up (workers/runner/sandboxed_process.h). It knows
// nothing of the queue or the database: it reads the job from files in its
// working directory (the job's scratch folder), reports progress, search
// checkpoints and the result as messages on fd 3 (job_child_protocol.h), and
// stops early on SIGTERM. Not meant to be run by hand.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "prune/engine/job.h"
#include "prune/engine/job_spec_codec.h"
#include "workers/runner/job_child_protocol.h"

namespace {

std::mutex message_mutex;

void Send(const std::string& message) {
  std::lock_guard<std::mutex> lock(message_mutex);
  const char* data = message.data();
  size_t left = message.size();
  while (left > 0) {
    const ssize_t n = write(prune::worker::kChildMessageFd, data, left);
    if (n <= 0) return;  // the worker is gone: nobody to tell
    data += n;
    left -= static_cast<size_t>(n);
  }
}

bool ReadFile(const std::string& path, std::string* content) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  content->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

bool WriteFile(const std::string& path, const std::string& content) {
  const std::string partial = path + ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) return false;
  }
  return std::rename(partial.c_str(), path.c_str()) == 0;
}

[[noreturn]] void Finish(const prune::engine::Status& status, const std::string& report_file,
                         double macs_ratio) {
  Send(prune::worker::EncodeResultMessage(status, report_file, macs_ratio));
  std::cout.flush();
  std::cerr.flush();
  // No static destructors: LibTorch's teardown has nothing left to give and
  // the signal thread is still blocked in sigwait.
  std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: prune-job-child SPEC_FILE (started by prune-worker)\n";
    return 2;
  }
  // SIGTERM / SIGINT cancel the job; taken by a thread so the cancel token is
  // set outside a signal handler. Blocked before any other thread exists.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  prune::engine::CancelToken cancel;
  std::thread([&cancel, stop_signals] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    cancel.Cancel();
  }).detach();

  std::string text;
  prune::engine::JobSpec spec;
  if (!ReadFile(argv[1], &text)) {
    Finish({"INTERNAL", "the job child cannot read its job file"}, "", 0);
  }
  if (const std::string error = prune::engine::DecodeJobSpec(text, &spec); !error.empty()) {
    Finish({"INTERNAL", "the job child cannot decode its job file: " + error}, "", 0);
  }
  ReadFile(prune::worker::kChildResumeFile, &spec.search_resume_state);  // absent: a fresh start
  int checkpoints = 0;
  spec.on_checkpoint = [&checkpoints](const std::string& state) {
    // Best effort, as in the worker: a lost checkpoint costs recomputation.
    const std::string file = "checkpoint-" + std::to_string(++checkpoints) + ".bin";
    if (WriteFile(file, state)) Send(prune::worker::EncodeCheckpointMessage(file));
  };
  prune::engine::JobOutcome outcome;
  const prune::engine::Status status = prune::engine::RunPruneJob(
      spec,
      [](const prune::engine::Progress& progress) {
        Send(prune::worker::EncodeProgressMessage(progress));
      },
      cancel, &outcome);
  if (!status.ok()) Finish(status, "", 0);
  if (!WriteFile(prune::worker::kChildReportFile, outcome.report_json)) {
    Finish({"INTERNAL", "the job child cannot write the report"}, "", 0);
  }
  Finish(status, prune::worker::kChildReportFile, outcome.macs_ratio);
}
