// The flags `model upload` and `dataset upload` share: how a broken upload
// is resumed.
#pragma once

#include <CLI/CLI.hpp>

#include "command_context.h"
#include "upload_stream.h"

namespace prune::client {

struct UploadFlags {
  bool resume = false;
  int retries = RetryPolicy().max_retries;
};

void AddUploadFlags(CLI::App* upload, UploadFlags* flags);

// Retry notes go to the context's error stream (stdout stays the result).
UploadOptions MakeUploadOptions(const UploadFlags& flags, const CommandContext& context);

}  // namespace prune::client
