#ifndef PRUNE_ENGINE_LAYER_NORM_SHAPE_H_
#define PRUNE_ENGINE_LAYER_NORM_SHAPE_H_

#include <torch/script.h>

namespace prune::engine {

// Rewrites the code of `layer_norm`'s class type so that every layer_norm
// call with a constant normalized_shape of k ints computes it as
// [x.size(-k), ..., x.size(-1)] of its input x instead: a scripted LayerNorm
// (and torchvision's LayerNorm2d) bakes normalized_shape into its code as a
// class constant, and instances with equal constants share one class type, so
// after pruning one instance's channels the constant is wrong for it. The
// sizes are what layer_norm requires normalized_shape to be, so the code
// stays right for every instance and every width. Calls through
// torch.nn.functional.layer_norm and direct aten::layer_norm calls are both
// rewritten. Returns how many calls were rewritten.
int MakeLayerNormShapeFollowInput(const torch::jit::Module& layer_norm);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_LAYER_NORM_SHAPE_H_
