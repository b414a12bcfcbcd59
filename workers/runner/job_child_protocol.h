// Messages from the sandboxed job child (prune-job-child) to the worker, one
// JSON object per line on the child's fd 3. Bulky payloads (the report, search
// checkpoints) travel as files in the job's scratch folder; the messages name
// them.
#pragma once

#include <optional>
#include <string>

#include "prune/engine/job.h"

namespace prune::worker {

// The files of the protocol, relative to the job's scratch folder.
inline constexpr char kChildSpecFile[] = "job.spec";          // EncodeJobSpec
inline constexpr char kChildResumeFile[] = "resume.bin";      // search_resume_state
inline constexpr char kChildReportFile[] = "report.json";     // JobOutcome::report_json
inline constexpr char kChildLogFile[] = "child.log";          // the child's stdout + stderr
inline constexpr int kChildMessageFd = 3;

struct ChildMessage {
  enum class Kind { kProgress, kCheckpoint, kResult };
  Kind kind = Kind::kProgress;
  engine::Progress progress;  // kProgress
  std::string file;           // kCheckpoint: the state's file; kResult: the report's
  engine::Status status;      // kResult
  double macs_ratio = 0;      // kResult
};

std::string EncodeProgressMessage(const engine::Progress& progress);
std::string EncodeCheckpointMessage(const std::string& file);
std::string EncodeResultMessage(const engine::Status& status, const std::string& report_file,
                                double macs_ratio);

// nullopt for a line that is not a well-formed message (the child runs a
// tenant's model: its output is never trusted).
std::optional<ChildMessage> DecodeChildMessage(const std::string& line);

}  // namespace prune::worker
