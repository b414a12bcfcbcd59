// MetaPruning evolutionary search, "inherit" mode: candidates are scored with
// importance-inherited weights (the scorer), the population evolves by
// mutation and crossover of the top-k parents under a hard cost constraint.
#include <algorithm>
#include <cmath>

#include "search/strategies.h"

namespace prune::engine::search {
namespace {

constexpr int kMaxTries = 50;

class EvolutionStrategy : public Strategy {
 public:
  explicit EvolutionStrategy(const SearchContext& context) : options_(context.options().evo) {}

  bool Done() const override { return generation_ >= options_.generations; }

  void Step(SearchContext& context) override {
    if (pending_.empty()) Breed(context);
    const KeepCounts& keep = pending_[next_];
    double score = context.Evaluate(keep);
    if (context.Feasible(keep) && std::find(pool_.begin(), pool_.end(), keep) == pool_.end()) {
      pool_.push_back(keep);
      pool_scores_.push_back(score);
    }
    if (++next_ >= pending_.size()) {
      pending_.clear();
      next_ = 0;
      ++generation_;
    }
  }

  std::string Describe() const override {
    if (pending_.empty()) {
      return "generation " + std::to_string(generation_) + "/" +
             std::to_string(options_.generations);
    }
    return "generation " + std::to_string(std::min(generation_ + 1, options_.generations)) + "/" +
           std::to_string(options_.generations) + " candidate " + std::to_string(next_) + "/" +
           std::to_string(pending_.size());
  }

  void Save(torch::serialize::OutputArchive& a) const override {
    PutInt(a, "generation", generation_);
    PutInt(a, "next", static_cast<int64_t>(next_));
    PutInt(a, "pending_count", static_cast<int64_t>(pending_.size()));
    PutInts(a, "pending", Flatten(pending_));
    PutInt(a, "pool_count", static_cast<int64_t>(pool_.size()));
    PutInts(a, "pool", Flatten(pool_));
    PutDoubles(a, "pool_scores", pool_scores_);
  }

  void Load(torch::serialize::InputArchive& a) override {
    generation_ = static_cast<int>(GetInt(a, "generation"));
    next_ = static_cast<size_t>(GetInt(a, "next"));
    pending_ = Unflatten(GetInts(a, "pending"), GetInt(a, "pending_count"));
    pool_ = Unflatten(GetInts(a, "pool"), GetInt(a, "pool_count"));
    pool_scores_ = GetDoubles(a, "pool_scores");
  }

 private:
  static std::vector<int64_t> Flatten(const std::vector<KeepCounts>& v) {
    std::vector<int64_t> flat;
    for (const auto& k : v) flat.insert(flat.end(), k.begin(), k.end());
    return flat;
  }
  static std::vector<KeepCounts> Unflatten(const std::vector<int64_t>& flat, int64_t count) {
    std::vector<KeepCounts> v;
    if (count <= 0) return v;
    size_t g = flat.size() / static_cast<size_t>(count);
    for (int64_t i = 0; i < count; ++i) {
      v.emplace_back(flat.begin() + i * g, flat.begin() + (i + 1) * g);
    }
    return v;
  }

  int64_t RandomWidth(SearchContext& context, const Unit& u) const {
    int64_t level = UniformInt(context.rng(), 1, options_.levels);
    auto k = static_cast<int64_t>(std::llround(static_cast<double>(level * u.channels) /
                                               static_cast<double>(options_.levels)));
    return std::clamp<int64_t>(k, 1, u.channels);
  }

  KeepCounts Random(SearchContext& context) const {
    KeepCounts k = FullKeepCounts(context.analysis());
    for (int t = 0; t < kMaxTries; ++t) {
      for (const Unit& u : context.units()) k[u.group] = RandomWidth(context, u);
      if (context.Feasible(k)) return k;
    }
    return ProjectToTarget(context, k);
  }

  bool Known(const KeepCounts& k) const {
    return std::find(pool_.begin(), pool_.end(), k) != pool_.end() ||
           std::find(pending_.begin(), pending_.end(), k) != pending_.end();
  }

  // Parents: the top-k feasible candidates seen so far (stable on ties).
  std::vector<size_t> Parents() const {
    std::vector<size_t> order(pool_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return pool_scores_[a] > pool_scores_[b]; });
    order.resize(std::min<size_t>(order.size(), static_cast<size_t>(options_.parents)));
    return order;
  }

  void Breed(SearchContext& context) {
    std::vector<size_t> parents = Parents();
    const int population = options_.population;
    if (parents.empty()) {
      for (int i = 0; i < population; ++i) {
        KeepCounts k = Random(context);
        for (int t = 0; t < kMaxTries && Known(k); ++t) k = Random(context);
        pending_.push_back(k);
      }
      return;
    }
    auto pick = [&]() -> const KeepCounts& {
      return pool_[parents[UniformInt(context.rng(), 0, static_cast<int64_t>(parents.size()) - 1)]];
    };
    const int mutations = population / 2;
    for (int i = 0; i < population; ++i) {
      KeepCounts child;
      for (int t = 0; t < kMaxTries; ++t) {
        if (i < mutations) {
          child = pick();
          for (const Unit& u : context.units()) {
            if (Uniform01(context.rng()) < options_.mutation_prob) {
              child[u.group] = RandomWidth(context, u);
            }
          }
        } else {
          const KeepCounts& a = pick();
          const KeepCounts& b = pick();
          child = a;
          for (const Unit& u : context.units()) {
            if (Uniform01(context.rng()) < 0.5) child[u.group] = b[u.group];
          }
        }
        // Feasible and new (MetaPruning samples until both hold).
        if (context.Feasible(child) && !Known(child)) break;
      }
      pending_.push_back(ProjectToTarget(context, child));
    }
  }

  EvoOptions options_;
  int generation_ = 0;
  std::vector<KeepCounts> pending_;  // this generation's candidates
  size_t next_ = 0;
  std::vector<KeepCounts> pool_;  // every feasible candidate evaluated
  std::vector<double> pool_scores_;
};

}  // namespace

std::unique_ptr<Strategy> MakeEvolutionStrategy(const SearchContext& context) {
  return std::make_unique<EvolutionStrategy>(context);
}

}  // namespace prune::engine::search
