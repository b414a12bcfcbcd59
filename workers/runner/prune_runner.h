// The narrow seam between the worker process and the LibTorch engine. The
// worker only ever sees this interface, so the claim/lease/result logic is
// testable with a fake engine and never includes torch headers.
#pragma once

#include <functional>
#include <string>

#include "prune/engine/job.h"

namespace prune::worker {

class PruneRunner {
 public:
  virtual ~PruneRunner() = default;
  virtual engine::Status Run(const engine::JobSpec& spec,
                             const std::function<void(const engine::Progress&)>& on_progress,
                             const engine::CancelToken& cancel, engine::JobOutcome* outcome) = 0;
};

// Runs jobs in this process with the real engine.
class EnginePruneRunner : public PruneRunner {
 public:
  engine::Status Run(const engine::JobSpec& spec,
                     const std::function<void(const engine::Progress&)>& on_progress,
                     const engine::CancelToken& cancel, engine::JobOutcome* outcome) override {
    return engine::RunPruneJob(spec, on_progress, cancel, outcome);
  }
};

}  // namespace prune::worker
