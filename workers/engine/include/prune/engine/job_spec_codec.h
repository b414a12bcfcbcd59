#ifndef PRUNE_ENGINE_JOB_SPEC_CODEC_H_
#define PRUNE_ENGINE_JOB_SPEC_CODEC_H_

// A JobSpec as text, so that a worker can hand a job to the engine running in
// another process (the job sandbox, workers/runner/sandboxed_prune_runner.h).
// Torch-free and std-only like job.h. The format is one `name=value` line per
// field; strings are percent-escaped, numbers are written exactly (%.17g).
// Fields that cannot cross a process boundary are not encoded:
// `on_checkpoint` (a callback) and `search_resume_state` (bytes that travel
// in a file of their own).

#include <string>
#include <vector>

#include "prune/engine/job.h"

namespace prune::engine {

std::string EncodeJobSpec(const JobSpec& spec);

// Fills `spec` from EncodeJobSpec's text. Returns "" on success, otherwise
// what is wrong (unknown field, bad number, malformed line). Fields missing
// from the text keep the values `spec` has.
std::string DecodeJobSpec(const std::string& text, JobSpec* spec);

// The JobSpec members the codec carries, and those it deliberately leaves
// out; together they must name every member (checked by a test).
std::vector<std::string> JobSpecEncodedFieldNames();
std::vector<std::string> JobSpecFieldsNotEncoded();

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_JOB_SPEC_CODEC_H_
