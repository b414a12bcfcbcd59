#include "channel_dim.h"

#include <algorithm>

namespace prune::engine {

std::optional<bool> ChannelLastAfterPermute(std::vector<int64_t> dims, bool channel_last) {
  const auto rank = static_cast<int64_t>(dims.size());
  if (rank < 2) return std::nullopt;
  std::vector<bool> seen(dims.size(), false);
  for (int64_t& d : dims) {
    if (d < 0) d += rank;
    if (d < 0 || d >= rank || seen[d]) return std::nullopt;
    seen[d] = true;
  }
  if (dims[0] != 0) return std::nullopt;
  const int64_t channel_dim = channel_last ? rank - 1 : 1;
  // Output dim i holds input dim dims[i]: the channels land where dims names them.
  const auto where = std::find(dims.begin(), dims.end(), channel_dim) - dims.begin();
  if (where == 1) return false;
  if (where == rank - 1) return true;
  return std::nullopt;
}

}  // namespace prune::engine
