#ifndef PRUNE_ENGINE_INFERENCE_OPTIMIZATION_H_
#define PRUNE_ENGINE_INFERENCE_OPTIMIZATION_H_

#include <torch/script.h>

namespace prune::engine {

// A copy of `module` as users deploy it for inference:
// torch.jit.optimize_for_inference(torch.jit.freeze(module.eval())).
// Freezing inlines parameters as constants and folds batch norm into the
// convolution before it; on the CPU optimize_for_inference then runs convs
// through oneDNN with pre-packed weights and activations kept in its blocked
// layout. On the CPU this halves a ResNet-18's latency and cuts a
// MobileNetV2's by two thirds (docs/BENCHMARKS.md), so a pruned model's
// speedup is measured both ways. `module` is not changed.
//
// The copy must compute what `module` computes on `check_input` (its first
// output tensor, to 1e-3 of the largest magnitude): LibTorch 1.13's oneDNN
// hardtanh (ReLU6) gives wrong results on channel counts that are not a
// multiple of the SIMD block (16 with AVX-512), which pruned widths often
// are. Throws EngineError OPTIMIZATION_CHANGES_OUTPUTS when it does not, and
// c10::Error where LibTorch cannot freeze, optimise or run the model.
torch::jit::Module OptimizedForInference(const torch::jit::Module& module,
                                         const torch::Tensor& check_input);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_INFERENCE_OPTIMIZATION_H_
