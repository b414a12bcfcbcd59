#ifndef PRUNE_ENGINE_SEARCH_SEARCH_H_
#define PRUNE_ENGINE_SEARCH_SEARCH_H_

// Automated per-layer width search: one interface for every
// strategy (AMC, MetaPruning, AutoSlim), with a budget, a seed, progress,
// cancellation and checkpoint / restore of the complete search state.
//
// A strategy is a resumable state machine: Search::Run calls Strategy::Step
// until the strategy is done or the budget is spent; each Step evaluates at
// most a few candidates through SearchContext::Evaluate. Between two steps the
// whole state (strategy, RNG, agent weights, replay buffer, candidates, best,
// counters) can be serialised with Search::Checkpoint; a new Search restored
// from those bytes finishes with the same result as an uninterrupted one for
// the same seed (wall-time budgets aside, which are not reproducible).

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "analysis.h"
#include "cost_model.h"
#include "measure.h"
#include "prune/engine/job.h"

namespace prune::engine::search {

// Scores a keep-count assignment (higher is better, e.g. top-1 accuracy).
// Implementations must be deterministic: the same keep counts give the same
// score whatever was evaluated before.
class CandidateScorer {
 public:
  virtual ~CandidateScorer() = default;
  virtual double Score(const KeepCounts& keep, const CancelToken& cancel) = 0;
};

struct AmcOptions {
  int warmup_episodes = 20;  // paper: 100
  int episodes = 80;         // after warm-up; paper: 300+
  int hidden = 300;          // actor / critic hidden sizes (300-300)
  double lr_actor = 1e-4;
  double lr_critic = 1e-3;
  double tau = 0.01;
  double discount = 1.0;
  int batch_size = 64;
  int replay_capacity = 2000;
  double noise_sigma = 0.5;    // initial truncated-normal exploration sigma
  double noise_decay = 0.95;   // per episode after warm-up
  double min_ratio = 0.05;     // smallest keep ratio (action bounds [min_ratio, 1])
  std::string reward = "acc";  // "acc" or "error_log_flops" (-error * log(FLOPs))
};

struct EvoOptions {
  int generations = 6;  // paper: ~20
  int population = 16;  // paper: 50
  int parents = 4;      // top-k; paper: 10
  double mutation_prob = 0.1;
  int levels = 10;  // keep ratio choices per group: 1/levels ... levels/levels
  // "inherit" (importance-inherited weights) or "pruningnet" (candidates
  // scored with PruningNet-generated weights; set up by search_job.cc).
  std::string mode = "inherit";
};

struct AutoSlimOptions {
  double step_fraction = 0.1;  // channels removed from a group per step
};

struct SearchOptions {
  std::string strategy;  // "amc", "metapruning", "autoslim"
  // "flops" (MACs), "params" or "latency" (predicted by a LatencyTable; the
  // Search then needs the matching CostModel).
  std::string target_kind = "flops";
  double target_ratio = 0.5;  // hard constraint: cost <= ratio * original
  // 0: none. Otherwise the search looks for the smallest feasible model
  // whose score keeps the floor (see BetterCandidate; AutoSlim slims on past
  // the target while it holds); reported as floor_met.
  double accuracy_floor = 0.0;
  int max_evaluations = 0;   // 0: strategy default (see DefaultMaxEvaluations)
  double max_seconds = 0.0;  // 0: no wall-time limit
  uint64_t seed = 0;
  int checkpoint_every = 10;  // fresh evaluations between checkpoint callbacks (0: never)
  AmcOptions amc;
  EvoOptions evo;
  AutoSlimOptions autoslim;
};

struct Candidate {
  KeepCounts keep;
  int64_t macs = 0;
  int64_t params = 0;
  double cost = 0.0;  // of the target kind: MACs, params or predicted milliseconds
  double score = 0.0;
  bool feasible = false;  // cost within the target
  bool pareto = false;    // on the (cost, score) Pareto front of all candidates
};

struct SearchResult {
  KeepCounts keep;                    // the chosen widths (feasible)
  Candidate best;                     // best feasible candidate
  std::vector<Candidate> candidates;  // every evaluated candidate, in order
  double full_cost = 0.0;             // cost of the unpruned model (target kind)
  int evaluations = 0;
  double seconds = 0.0;    // wall time, summed over resumed runs
  bool floor_met = true;   // best.score >= accuracy_floor (true without a floor)
  std::string stopped_by;  // "done", "max_evaluations" or "max_seconds"
  // MetaPruning "pruningnet" mode (search_job.cc): the chosen widths' score
  // with inherited and with generated weights, and which ones were used.
  std::string weights = "inherited";
  double inherited_score = -1.0;
  double generated_score = -1.0;
  double meta_train_loss = 0.0;
  double meta_train_seconds = 0.0;
};

// One prunable group the strategies decide a width for, in forward order.
struct Unit {
  int group = 0;
  int64_t channels = 0;
  int layer = -1;  // index in ModelAnalysis::layers of its first producer (-1 unknown)
};
std::vector<Unit> DecisionUnits(const ModelAnalysis& analysis);

// Everything a strategy may use while stepping.
// Which of two evaluated candidates is the search's answer. Without a floor:
// the feasible one with the higher score. With one: a feasible candidate at
// or above the floor beats any below it; among those above, the cheaper
// (then the higher score) wins; among those below, the higher score.
bool BetterCandidate(const Candidate& a, const Candidate& b, const SearchOptions& options);

class SearchContext {
 public:
  virtual ~SearchContext() = default;
  virtual const ModelAnalysis& analysis() const = 0;
  virtual const std::vector<Unit>& units() const = 0;
  virtual const SearchOptions& options() const = 0;
  virtual std::mt19937_64& rng() = 0;
  // Score of `keep` (cached: a repeated candidate is not evaluated twice).
  virtual double Evaluate(const KeepCounts& keep) = 0;
  virtual double Cost(const KeepCounts& keep) const = 0;  // of the target kind
  virtual double FullCost() const = 0;
  bool Feasible(const KeepCounts& keep) const {
    return Cost(keep) <= options().target_ratio * FullCost();
  }
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual bool Done() const = 0;
  virtual void Step(SearchContext& context) = 0;
  // Progress text such as "episode 12/100".
  virtual std::string Describe() const = 0;
  virtual void Save(torch::serialize::OutputArchive& archive) const = 0;
  virtual void Load(torch::serialize::InputArchive& archive) = 0;
};

// nullptr for an unknown name.
std::unique_ptr<Strategy> MakeStrategy(const SearchContext& context);
bool IsSearchStrategy(const std::string& name);
int DefaultMaxEvaluations(const SearchOptions& options);

struct SearchProgress {
  double fraction = 0.0;  // of the search, in [0, 1]
  std::string message;    // "episode 12/100 best 0.873 @ 0.49 MACs"
};

class Search : private SearchContext {
 public:
  // `scorer` must outlive the search. Throws EngineError INVALID_ARGUMENT for
  // bad options, TARGET_UNREACHABLE when one channel per group is too much.
  // The cost of options.target_kind is `cost` (whose kind must match); the
  // first form builds the analytic one for "flops" / "params".
  Search(const ModelAnalysis& analysis, const SearchOptions& options, CandidateScorer* scorer);
  Search(const ModelAnalysis& analysis, SearchOptions options, CandidateScorer* scorer,
         CostModel cost);
  ~Search() override;

  // Complete search state as bytes (a torch archive).
  std::string Checkpoint() const;
  // Replaces the state with a checkpoint of a search with the same model and
  // options. Throws EngineError INVALID_ARGUMENT if it does not fit.
  void Restore(const std::string& state);

  // Runs until the strategy is done or the budget is spent; throws
  // EngineError CANCELLED. The chosen widths always meet the hard target
  // (the best candidate is projected onto it if none evaluated was feasible).
  SearchResult Run(const CancelToken& cancel,
                   const std::function<void(const SearchProgress&)>& on_progress,
                   const std::function<void(const std::string&)>& on_checkpoint);

 private:
  const ModelAnalysis& analysis() const override { return analysis_; }
  const std::vector<Unit>& units() const override { return units_; }
  const SearchOptions& options() const override { return options_; }
  std::mt19937_64& rng() override { return rng_; }
  double Evaluate(const KeepCounts& keep) override;
  double Cost(const KeepCounts& keep) const override { return cost_.Cost(keep); }
  double FullCost() const override { return cost_.FullCost(); }

  std::string ProgressMessage() const;
  SearchResult Finish();

  const ModelAnalysis& analysis_;
  SearchOptions options_;
  CandidateScorer* scorer_;
  CostModel cost_;
  std::vector<Unit> units_;
  std::mt19937_64 rng_;
  std::unique_ptr<Strategy> strategy_;
  std::vector<Candidate> candidates_;
  std::map<KeepCounts, size_t> index_;  // keep -> position in candidates_
  int best_ = -1;                       // best feasible candidate
  double seconds_ = 0.0;
  const CancelToken* cancel_ = nullptr;
};

// Largest uniform shrink s * keep (per group max(1, round(s * keep[g])))
// that meets the target; `keep` itself if it already does.
KeepCounts ProjectToTarget(const SearchContext& context, const KeepCounts& keep);

// Flags the candidates on the Pareto front (no other candidate has lower or
// equal cost and higher or equal score, one of them strictly), cost =
// Candidate::cost (of the target kind).
void MarkPareto(std::vector<Candidate>& candidates);

// Archive helpers for strategies (everything stored as tensors).
void PutInt(torch::serialize::OutputArchive& a, const std::string& key, int64_t v);
int64_t GetInt(torch::serialize::InputArchive& a, const std::string& key);
void PutDouble(torch::serialize::OutputArchive& a, const std::string& key, double v);
double GetDouble(torch::serialize::InputArchive& a, const std::string& key);
void PutInts(torch::serialize::OutputArchive& a, const std::string& key,
             const std::vector<int64_t>& v);
std::vector<int64_t> GetInts(torch::serialize::InputArchive& a, const std::string& key);
void PutDoubles(torch::serialize::OutputArchive& a, const std::string& key,
                const std::vector<double>& v);
std::vector<double> GetDoubles(torch::serialize::InputArchive& a, const std::string& key);
void PutString(torch::serialize::OutputArchive& a, const std::string& key, const std::string& v);
std::string GetString(torch::serialize::InputArchive& a, const std::string& key);

// Deterministic random numbers from an mt19937_64 (no distribution state).
double Uniform01(std::mt19937_64& rng);
double StandardNormal(std::mt19937_64& rng);
int64_t UniformInt(std::mt19937_64& rng, int64_t lo, int64_t hi);  // inclusive

}  // namespace prune::engine::search

#endif  // PRUNE_ENGINE_SEARCH_SEARCH_H_
