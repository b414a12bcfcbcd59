#include "server/stale_upload_purger.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "absl/time/clock.h"

namespace prune::server {

StaleUploadPurger::StaleUploadPurger(db::BlobStore* blobs, absl::Duration ttl,
                                     absl::Duration interval)
    : blobs_(blobs), ttl_(ttl), thread_(interval, PeriodicThread::FirstTick::kImmediately, [this] {
        PurgeOnce();
        return true;
      }) {}

absl::Duration StaleUploadPurger::DefaultInterval(absl::Duration ttl) {
  return std::max(absl::Seconds(1), std::min(ttl / 4, absl::Minutes(10)));
}

void StaleUploadPurger::PurgeOnce() {
  absl::StatusOr<int> purged = blobs_->PurgeStaleUploads(absl::Now() - ttl_);
  if (!purged.ok()) {
    spdlog::warn("cannot purge stale uploads: {}", purged.status().ToString());
  } else if (*purged > 0) {
    spdlog::info("purged {} staged upload(s) idle for more than {}", *purged,
                 absl::FormatDuration(ttl_));
  }
}

}  // namespace prune::server
