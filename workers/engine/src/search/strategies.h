#ifndef PRUNE_ENGINE_SEARCH_STRATEGIES_H_
#define PRUNE_ENGINE_SEARCH_STRATEGIES_H_

#include <memory>
#include <string>

#include "search/search.h"

namespace prune::engine::search {

// AutoSlim-style greedy slimming (autoslim.cc).
std::unique_ptr<Strategy> MakeAutoSlimStrategy(const SearchContext& context);
// MetaPruning evolutionary search, "inherit" mode (evolution.cc).
std::unique_ptr<Strategy> MakeEvolutionStrategy(const SearchContext& context);
// AMC: DDPG agent choosing a keep ratio per layer (amc.cc).
std::unique_ptr<Strategy> MakeAmcStrategy(const SearchContext& context);

// AMC's episode reward: the held-out score ("acc"), or -error * log of the
// resource the target constrains ("error_log_flops"): the candidate's cost
// ratio (`cost` / `full_cost`, in the target's unit: MACs, params or
// predicted latency) scaled to the original model's MACs, so that the log
// stays positive whatever the unit (a latency in ms may be below 1) and a
// FLOPs target gives exactly -error * log(MACs).
double AmcReward(const std::string& mode, double score, double cost, double full_cost,
                 double full_macs);

}  // namespace prune::engine::search

#endif  // PRUNE_ENGINE_SEARCH_STRATEGIES_H_
