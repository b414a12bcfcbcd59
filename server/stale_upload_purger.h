// Deletes staged uploads that nobody resumed within the upload TTL (their
// client gave up, or a process died mid-upload), in a background thread of
// pruned serve. Without it broken uploads would hold their bytes forever.
#pragma once

#include "absl/time/time.h"
#include "common/db/blob_store.h"
#include "common/thread/periodic_thread.h"

namespace prune::server {

class StaleUploadPurger {
 public:
  // Purges once at once, then every `interval`, the uploads whose last chunk
  // is older than `ttl`. `blobs` must outlive the purger.
  StaleUploadPurger(db::BlobStore* blobs, absl::Duration ttl, absl::Duration interval);
  ~StaleUploadPurger() = default;  // stops the thread
  StaleUploadPurger(const StaleUploadPurger&) = delete;
  StaleUploadPurger& operator=(const StaleUploadPurger&) = delete;

  // min(ttl / 4, 10 minutes), at least 1 second: a staged upload outlives its
  // TTL by at most a quarter of it.
  static absl::Duration DefaultInterval(absl::Duration ttl);

 private:
  void PurgeOnce();

  db::BlobStore* blobs_;
  const absl::Duration ttl_;
  PeriodicThread thread_;  // last: starts at once
};

}  // namespace prune::server
