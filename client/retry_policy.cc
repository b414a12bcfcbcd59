#include "retry_policy.h"

#include <algorithm>
#include <thread>

namespace prune::client {

void RetryPolicy::Sleep(std::chrono::milliseconds duration) const {
  if (sleep) {
    sleep(duration);
  } else {
    std::this_thread::sleep_for(duration);
  }
}

std::chrono::milliseconds RetryPolicy::NextBackoff(std::chrono::milliseconds current) const {
  return std::min(current * 2, max_backoff);
}

}  // namespace prune::client
