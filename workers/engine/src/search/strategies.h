#ifndef PRUNE_ENGINE_SEARCH_STRATEGIES_H_
#define PRUNE_ENGINE_SEARCH_STRATEGIES_H_

#include <memory>

#include "search/search.h"

namespace prune::engine::search {

// AutoSlim-style greedy slimming (autoslim.cc).
std::unique_ptr<Strategy> MakeAutoSlimStrategy(const SearchContext& context);
// MetaPruning evolutionary search, "inherit" mode (evolution.cc).
std::unique_ptr<Strategy> MakeEvolutionStrategy(const SearchContext& context);
// AMC: DDPG agent choosing a keep ratio per layer (amc.cc).
std::unique_ptr<Strategy> MakeAmcStrategy(const SearchContext& context);

}  // namespace prune::engine::search

#endif  // PRUNE_ENGINE_SEARCH_STRATEGIES_H_
