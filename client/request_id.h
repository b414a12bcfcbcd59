#pragma once

#include <string>

namespace prune::client {

// A random (version 4) UUID, e.g. "3f0c5d1e-8a2b-4c7d-9e1f-0a1b2c3d4e5f", used as
// the default CreateJob request_id so that retries within one invocation are
// idempotent.
std::string NewRequestId();

}  // namespace prune::client
