#include "upload_flags.h"

namespace prune::client {

void AddUploadFlags(CLI::App* upload, UploadFlags* flags) {
  upload->add_flag("--resume", flags->resume,
                   "Continue what an earlier, interrupted run left on the server (same file "
                   "content and tenant) instead of starting at byte 0");
  upload
      ->add_option("--retries", flags->retries,
                   "Resume a broken stream (UNAVAILABLE, ABORTED) this many times, with backoff")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
}

UploadOptions MakeUploadOptions(const UploadFlags& flags, const CommandContext& context) {
  UploadOptions options;
  options.resume = flags.resume;
  options.retry.max_retries = flags.retries;
  options.log = context.err;
  return options;
}

}  // namespace prune::client
