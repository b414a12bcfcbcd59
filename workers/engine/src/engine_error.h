#ifndef PRUNE_ENGINE_ENGINE_ERROR_H_
#define PRUNE_ENGINE_ENGINE_ERROR_H_

#include <stdexcept>
#include <string>

#include "prune/engine/status.h"

namespace prune::engine {

// Internal error carrying a Status code; converted to Status at the public API.
class EngineError : public std::runtime_error {
 public:
  EngineError(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }
  Status ToStatus() const { return Status{code_, what()}; }

 private:
  std::string code_;
};

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_ENGINE_ERROR_H_
