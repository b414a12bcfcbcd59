// The environment a sandboxed job child starts with: what LibTorch, OpenMP,
// the allocator and CUDA need from the worker's environment, and nothing else.
// The worker's own settings (PRUNE_DATABASE_URL, tokens, TLS keys, cloud
// credentials) never reach the tenant's model.
#pragma once

#include <string>
#include <vector>

namespace prune::worker {

// `NAME=value` entries of `parent` (an environ-style list) that the child may
// see, plus HOME and TMPDIR pointing at `scratch_dir`.
std::vector<std::string> ChildEnvironment(const std::vector<std::string>& parent,
                                          const std::string& scratch_dir);

// This process's environment as `NAME=value` entries.
std::vector<std::string> CurrentEnvironment();

}  // namespace prune::worker
