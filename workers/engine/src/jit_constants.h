#ifndef PRUNE_ENGINE_JIT_CONSTANTS_H_
#define PRUNE_ENGINE_JIT_CONSTANTS_H_

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>

#include <cstdint>
#include <optional>

namespace prune::engine {

// The value of a graph input that is a constant int, if it is one.
inline std::optional<int64_t> ConstantInt(torch::jit::Value* v) {
  auto iv = torch::jit::toIValue(v);
  if (iv && iv->isInt()) return iv->toInt();
  return std::nullopt;
}

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_JIT_CONSTANTS_H_
