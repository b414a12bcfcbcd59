#include "server/stale_upload_purger.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "absl/time/clock.h"

namespace prune::server {

StaleUploadPurger::StaleUploadPurger(db::BlobStore* blobs, absl::Duration ttl,
                                     absl::Duration interval)
    : blobs_(blobs), ttl_(ttl), interval_(interval), thread_([this] { Run(); }) {}

StaleUploadPurger::~StaleUploadPurger() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

absl::Duration StaleUploadPurger::DefaultInterval(absl::Duration ttl) {
  return std::max(absl::Seconds(1), std::min(ttl / 4, absl::Minutes(10)));
}

void StaleUploadPurger::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    absl::StatusOr<int> purged = blobs_->PurgeStaleUploads(absl::Now() - ttl_);
    if (!purged.ok()) {
      spdlog::warn("cannot purge stale uploads: {}", purged.status().ToString());
    } else if (*purged > 0) {
      spdlog::info("purged {} staged upload(s) idle for more than {}", *purged,
                   absl::FormatDuration(ttl_));
    }
    lock.lock();
    wake_.wait_for(lock, absl::ToChronoMilliseconds(interval_), [this] { return stopping_; });
  }
}

}  // namespace prune::server
