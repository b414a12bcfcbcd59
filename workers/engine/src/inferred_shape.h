#ifndef PRUNE_ENGINE_INFERRED_SHAPE_H_
#define PRUNE_ENGINE_INFERRED_SHAPE_H_

#include <torch/csrc/jit/ir/ir.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace prune::engine {

// Recorded shape of a tensor value, nullptr when not recorded.
using ShapeLookup = std::function<const std::vector<int64_t>*(const torch::jit::Value*)>;

// The shape of a tensor that the analysis probe did not record (values inside
// prim::If branches that did not run, e.g. StochasticDepth's training-only
// noise), derived from recorded shapes: factories (empty / zeros / ones /
// rand / randn) over a size list built from constants, x.size(), x.dim(),
// indexing and list + / *; in-place ops (self's shape); broadcasting binary
// arithmetic. nullopt when any step is not one of these.
std::optional<std::vector<int64_t>> InferShape(const torch::jit::Value* v,
                                               const ShapeLookup& recorded);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_INFERRED_SHAPE_H_
