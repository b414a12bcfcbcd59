#ifndef PRUNE_ENGINE_STATUS_H_
#define PRUNE_ENGINE_STATUS_H_

#include <string>

namespace prune::engine {

// Result of an engine call. `code` is empty on success, otherwise one of
// "MODEL_LOAD_FAILED", "DATASET_INVALID", "TARGET_UNREACHABLE",
// "INVALID_ARGUMENT", "CANCELLED", "INTERNAL".
struct Status {
  std::string code;
  std::string message;
  bool ok() const { return code.empty(); }
  std::string ToString() const { return ok() ? "OK" : code + ": " + message; }
};

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_STATUS_H_
