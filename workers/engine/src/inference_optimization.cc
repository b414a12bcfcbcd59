#include "inference_optimization.h"

#include <torch/csrc/jit/api/module.h>
#include <torch/torch.h>

#include <limits>
#include <sstream>

#include "engine_error.h"

namespace prune::engine {

namespace {

// The model's output, or the first tensor of a tuple output; undefined for
// anything else (nothing to compare).
torch::Tensor FirstOutputTensor(const c10::IValue& output) {
  if (output.isTensor()) return output.toTensor();
  if (output.isTuple()) {
    for (const auto& element : output.toTupleRef().elements()) {
      if (element.isTensor()) return element.toTensor();
    }
  }
  return {};
}

}  // namespace

torch::jit::Module OptimizedForInference(const torch::jit::Module& module,
                                         const torch::Tensor& check_input) {
  // freeze() refuses a module in training mode; eval() on a clone keeps the
  // caller's module as it is.
  torch::jit::Module copy = module.clone();
  copy.eval();
  torch::jit::Module frozen = torch::jit::freeze(copy);
  torch::jit::Module optimized = torch::jit::optimize_for_inference(frozen);

  torch::NoGradGuard no_grad;
  torch::Tensor want = FirstOutputTensor(copy.forward({check_input}));
  torch::Tensor got = FirstOutputTensor(optimized.forward({check_input}));
  if (!want.defined() || !got.defined()) return optimized;
  const double scale = want.abs().max().item<double>();
  const double difference = got.sizes() == want.sizes()
                                ? (got.to(want.device()) - want).abs().max().item<double>()
                                : std::numeric_limits<double>::infinity();
  // Relative only: randomly initialised models can have outputs of 1e-10,
  // where any absolute floor would pass everything.
  if (!(difference <= 1e-3 * scale)) {
    std::ostringstream message;
    message << "torch.jit.optimize_for_inference changes this model's outputs (largest difference "
            << difference << " for outputs up to " << scale
            << "); a known cause is LibTorch 1.13's oneDNN ReLU6 / hardtanh on channel counts that "
               "are not a multiple of 16, which --round-to 16 avoids";
    throw EngineError("OPTIMIZATION_CHANGES_OUTPUTS", message.str());
  }
  return optimized;
}

}  // namespace prune::engine
