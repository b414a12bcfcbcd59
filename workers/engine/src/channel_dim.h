#ifndef PRUNE_ENGINE_CHANNEL_DIM_H_
#define PRUNE_ENGINE_CHANNEL_DIM_H_

#include <cstdint>
#include <optional>
#include <vector>

namespace prune::engine {

// Where the channels of a tensor are after `permute(x, dims)`, given whether
// they were on the last dim (channel-last, as a Linear reads them) or on dim 1
// (channel-first, as a conv reads them). A permutation that keeps the batch
// dim first and puts the channels on dim 1 gives channel-first, on the last
// dim channel-last: [0, 2, 3, 1] and [0, 3, 1, 2] (rank 4) or [0, 2, 1]
// (rank 3) switch between the two, a permutation of the spatial dims alone
// keeps the channels where they are. Anything else (batch dim moved, channels
// in the middle, invalid dims) gives nullopt: the channels are then not
// followed. The returned flag is "channel-last"; rank 2 counts as
// channel-first (dim 1 is both).
std::optional<bool> ChannelLastAfterPermute(std::vector<int64_t> dims, bool channel_last);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_CHANNEL_DIM_H_
