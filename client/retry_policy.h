#pragma once

#include <chrono>
#include <functional>

namespace prune::client {

// Bounded exponential backoff for reconnecting watches and retrying
// idempotent calls after UNAVAILABLE.
struct RetryPolicy {
  int max_retries = 6;
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(10)};
  // Injected so tests do not wait; empty means std::this_thread::sleep_for.
  std::function<void(std::chrono::milliseconds)> sleep;

  void Sleep(std::chrono::milliseconds duration) const;
  std::chrono::milliseconds NextBackoff(std::chrono::milliseconds current) const;
};

}  // namespace prune::client
