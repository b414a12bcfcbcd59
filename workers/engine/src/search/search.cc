#include "search/search.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "engine_error.h"
#include "evaluate.h"
#include "search/strategies.h"
#include "uniform_strategy.h"

namespace prune::engine::search {
namespace {

constexpr int64_t kStateVersion = 1;

torch::Tensor Bytes(const std::string& s) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(s.size())}, torch::kUInt8);
  if (!s.empty()) std::memcpy(t.data_ptr<uint8_t>(), s.data(), s.size());
  return t;
}

}  // namespace

void PutInt(torch::serialize::OutputArchive& a, const std::string& key, int64_t v) {
  a.write(key, torch::tensor({v}, torch::kInt64));
}
int64_t GetInt(torch::serialize::InputArchive& a, const std::string& key) {
  torch::Tensor t;
  a.read(key, t);
  return t.item<int64_t>();
}
void PutDouble(torch::serialize::OutputArchive& a, const std::string& key, double v) {
  a.write(key, torch::tensor({v}, torch::kFloat64));
}
double GetDouble(torch::serialize::InputArchive& a, const std::string& key) {
  torch::Tensor t;
  a.read(key, t);
  return t.item<double>();
}
void PutInts(torch::serialize::OutputArchive& a, const std::string& key,
             const std::vector<int64_t>& v) {
  a.write(key, torch::tensor(v, torch::kInt64).reshape({static_cast<int64_t>(v.size())}));
}
std::vector<int64_t> GetInts(torch::serialize::InputArchive& a, const std::string& key) {
  torch::Tensor t;
  a.read(key, t);
  t = t.to(torch::kInt64).contiguous();
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}
void PutDoubles(torch::serialize::OutputArchive& a, const std::string& key,
                const std::vector<double>& v) {
  a.write(key, torch::tensor(v, torch::kFloat64).reshape({static_cast<int64_t>(v.size())}));
}
std::vector<double> GetDoubles(torch::serialize::InputArchive& a, const std::string& key) {
  torch::Tensor t;
  a.read(key, t);
  t = t.to(torch::kFloat64).contiguous();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}
void PutString(torch::serialize::OutputArchive& a, const std::string& key, const std::string& v) {
  a.write(key, Bytes(v));
}
std::string GetString(torch::serialize::InputArchive& a, const std::string& key) {
  torch::Tensor t;
  a.read(key, t);
  t = t.contiguous();
  const auto* p = reinterpret_cast<const char*>(t.data_ptr<uint8_t>());
  return std::string(p, p + t.numel());
}

double Uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
}

double StandardNormal(std::mt19937_64& rng) {
  double u1 = 1.0 - Uniform01(rng);  // (0, 1]
  double u2 = Uniform01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

int64_t UniformInt(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

std::vector<Unit> DecisionUnits(const ModelAnalysis& analysis) {
  std::vector<Unit> units;
  std::vector<bool> seen(analysis.groups.size(), false);
  for (size_t i = 0; i < analysis.layers.size(); ++i) {
    const Layer& layer = analysis.layers[i];
    if (IsNormLayer(layer.kind)) continue;
    // A grouped conv's output (and its producer's) is one group in runs.
    int out_group = layer.out_group;
    if (out_group < 0 && !layer.out_parts.empty()) {
      out_group = layer.out_parts.front().group;
      for (const ChannelPart& p : layer.out_parts) {
        if (p.group != out_group) out_group = -1;
      }
    }
    if (out_group < 0) continue;
    const PruningGroup& g = analysis.groups.at(out_group);
    if (!g.prunable || g.channels < 2 || seen[g.id]) continue;
    seen[g.id] = true;
    units.push_back(Unit{g.id, g.channels, static_cast<int>(i)});
  }
  for (const auto& g : analysis.groups) {  // prunable groups without a known producer layer
    if (g.prunable && g.channels >= 2 && !seen[g.id]) units.push_back(Unit{g.id, g.channels, -1});
  }
  return units;
}

bool IsSearchStrategy(const std::string& name) {
  return name == "amc" || name == "metapruning" || name == "autoslim";
}

int DefaultMaxEvaluations(const SearchOptions& options) {
  if (options.strategy == "amc") return options.amc.warmup_episodes + options.amc.episodes;
  if (options.strategy == "metapruning") return options.evo.population * options.evo.generations;
  return 200;
}

std::unique_ptr<Strategy> MakeStrategy(const SearchContext& context) {
  const std::string& name = context.options().strategy;
  if (name == "amc") return MakeAmcStrategy(context);
  if (name == "metapruning") return MakeEvolutionStrategy(context);
  if (name == "autoslim") return MakeAutoSlimStrategy(context);
  return nullptr;
}

KeepCounts ProjectToTarget(const SearchContext& context, const KeepCounts& keep) {
  if (context.Feasible(keep)) return keep;
  auto scaled = [&](double s) {
    KeepCounts k = keep;
    for (const Unit& u : context.units()) {
      auto v = static_cast<int64_t>(std::llround(s * static_cast<double>(keep[u.group])));
      k[u.group] = std::clamp<int64_t>(v, 1, u.channels);
    }
    return k;
  };
  if (!context.Feasible(scaled(0.0))) {
    throw EngineError("TARGET_UNREACHABLE",
                      "one channel per prunable group still exceeds the target");
  }
  double lo = 0.0;
  double hi = 1.0;
  for (int i = 0; i < 40; ++i) {
    double mid = 0.5 * (lo + hi);
    (context.Feasible(scaled(mid)) ? lo : hi) = mid;
  }
  return scaled(lo);
}

void MarkPareto(std::vector<Candidate>& candidates) {
  auto cost = [](const Candidate& c) { return c.cost; };
  for (auto& c : candidates) {
    c.pareto = true;
    for (const auto& o : candidates) {
      if (cost(o) <= cost(c) && o.score >= c.score && (cost(o) < cost(c) || o.score > c.score)) {
        c.pareto = false;
        break;
      }
    }
  }
  // Duplicated points (same cost and score, different widths): flag the first only.
  for (size_t i = 0; i < candidates.size(); ++i) {
    for (size_t j = 0; j < i && candidates[i].pareto; ++j) {
      if (candidates[j].pareto && cost(candidates[j]) == cost(candidates[i]) &&
          candidates[j].score == candidates[i].score) {
        candidates[i].pareto = false;
      }
    }
  }
}

Search::Search(const ModelAnalysis& analysis, const SearchOptions& options, CandidateScorer* scorer)
    : Search(analysis, options, scorer, CostModel(analysis, options.target_kind)) {}

Search::Search(const ModelAnalysis& analysis, SearchOptions options, CandidateScorer* scorer,
               CostModel cost)
    : analysis_(analysis), options_(std::move(options)), scorer_(scorer), cost_(std::move(cost)) {
  auto invalid = [](const std::string& m) { throw EngineError("INVALID_ARGUMENT", m); };
  if (!IsSearchStrategy(options_.strategy)) {
    invalid("unknown search strategy '" + options_.strategy + "'");
  }
  if (cost_.kind() != options_.target_kind) {
    invalid("cost model '" + cost_.kind() + "' for target kind '" + options_.target_kind + "'");
  }
  if (!(options_.target_ratio > 0 && options_.target_ratio < 1)) {
    invalid("target ratio must be in (0, 1)");
  }
  if (options_.max_evaluations < 0 || options_.max_seconds < 0) invalid("negative search budget");
  if (options_.amc.warmup_episodes < 0 || options_.amc.episodes < 0 ||
      options_.amc.warmup_episodes + options_.amc.episodes < 1 || options_.amc.hidden < 1 ||
      options_.amc.batch_size < 1 || options_.amc.replay_capacity < 1 ||
      !(options_.amc.min_ratio > 0 && options_.amc.min_ratio <= 1) ||
      (options_.amc.reward != "acc" && options_.amc.reward != "error_log_flops")) {
    invalid("bad AMC settings");
  }
  if (options_.evo.generations < 1 || options_.evo.population < 2 || options_.evo.parents < 1 ||
      options_.evo.levels < 2 ||
      (options_.evo.mode != "inherit" && options_.evo.mode != "pruningnet")) {
    invalid("bad MetaPruning settings (mode \"inherit\" or \"pruningnet\")");
  }
  if (!(options_.autoslim.step_fraction > 0 && options_.autoslim.step_fraction < 1)) {
    invalid("bad AutoSlim step fraction");
  }
  if (!scorer_) invalid("search needs a scorer");
  if (options_.max_evaluations == 0) options_.max_evaluations = DefaultMaxEvaluations(options_);
  units_ = DecisionUnits(analysis_);
  KeepCounts full = FullKeepCounts(analysis_);
  if (!(cost_.FullCost() > 0))
    throw EngineError("TARGET_UNREACHABLE", "model has no measurable cost");
  rng_.seed(options_.seed);
  strategy_ = MakeStrategy(*this);
  // Fails with TARGET_UNREACHABLE early.
  ProjectToTarget(*this, full);
}

Search::~Search() = default;

double Search::Evaluate(const KeepCounts& keep) {
  auto it = index_.find(keep);
  if (it != index_.end()) return candidates_[it->second].score;
  ThrowIfCancelled(*cancel_);
  Candidate c;
  c.keep = keep;
  c.score = scorer_->Score(keep, *cancel_);
  ModelCost cost = ComputeCost(analysis_, keep);
  c.macs = cost.macs;
  c.params = cost.params;
  c.cost = Cost(keep);
  c.feasible = c.cost <= options_.target_ratio * FullCost();
  index_[keep] = candidates_.size();
  candidates_.push_back(c);
  if (c.feasible && (best_ < 0 || BetterCandidate(c, candidates_[best_], options_))) {
    best_ = static_cast<int>(candidates_.size()) - 1;
  }
  return c.score;
}

bool BetterCandidate(const Candidate& a, const Candidate& b, const SearchOptions& options) {
  const double floor = options.accuracy_floor;
  if (floor <= 0) return a.score > b.score;
  const bool a_keeps = a.score >= floor, b_keeps = b.score >= floor;
  if (a_keeps != b_keeps) return a_keeps;
  if (!a_keeps) return a.score > b.score;
  return a.cost < b.cost || (a.cost == b.cost && a.score > b.score);
}

std::string Search::ProgressMessage() const {
  std::ostringstream m;
  m << strategy_->Describe();
  if (best_ >= 0) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), " best %.3f @ %.2f %s", candidates_[best_].score,
                  candidates_[best_].cost / FullCost(), cost_.unit());
    m << buf;
  }
  return m.str();
}

SearchResult Search::Run(const CancelToken& cancel,
                         const std::function<void(const SearchProgress&)>& on_progress,
                         const std::function<void(const std::string&)>& on_checkpoint) {
  cancel_ = &cancel;
  std::string stopped_by = "done";
  size_t last_checkpoint = candidates_.size();
  while (!strategy_->Done()) {
    ThrowIfCancelled(cancel);
    if (static_cast<int>(candidates_.size()) >= options_.max_evaluations) {
      stopped_by = "max_evaluations";
      break;
    }
    if (options_.max_seconds > 0 && seconds_ >= options_.max_seconds) {
      stopped_by = "max_seconds";
      break;
    }
    auto start = std::chrono::steady_clock::now();
    strategy_->Step(*this);
    seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (on_progress) {
      double fraction = std::min(1.0, static_cast<double>(candidates_.size()) /
                                          static_cast<double>(options_.max_evaluations));
      on_progress(SearchProgress{fraction, ProgressMessage()});
    }
    if (on_checkpoint && options_.checkpoint_every > 0 &&
        candidates_.size() >= last_checkpoint + static_cast<size_t>(options_.checkpoint_every)) {
      last_checkpoint = candidates_.size();
      on_checkpoint(Checkpoint());
    }
  }
  SearchResult result = Finish();
  result.stopped_by = stopped_by;
  return result;
}

SearchResult Search::Finish() {
  auto start = std::chrono::steady_clock::now();
  if (best_ < 0) {
    // Nothing feasible was evaluated: shrink the best candidate (or the full
    // model) uniformly onto the target and evaluate that.
    KeepCounts base = FullKeepCounts(analysis_);
    int top = -1;
    for (size_t i = 0; i < candidates_.size(); ++i) {
      if (top < 0 || candidates_[i].score > candidates_[top].score) top = static_cast<int>(i);
    }
    if (top >= 0) base = candidates_[top].keep;
    Evaluate(ProjectToTarget(*this, base));
  }
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  SearchResult result;
  result.candidates = candidates_;
  MarkPareto(result.candidates);
  result.full_cost = FullCost();
  result.best = result.candidates.at(best_);
  result.keep = result.best.keep;
  result.evaluations = static_cast<int>(candidates_.size());
  result.seconds = seconds_;
  result.floor_met = options_.accuracy_floor <= 0 || result.best.score >= options_.accuracy_floor;
  return result;
}

std::string Search::Checkpoint() const {
  torch::serialize::OutputArchive a;
  PutInt(a, "version", kStateVersion);
  PutString(a, "strategy", options_.strategy);
  PutString(a, "target_kind", options_.target_kind);
  PutDouble(a, "target_ratio", options_.target_ratio);
  PutInt(a, "seed", static_cast<int64_t>(options_.seed));
  KeepCounts full = FullKeepCounts(analysis_);
  PutInts(a, "channels", full);
  std::ostringstream rng;
  rng << rng_;
  PutString(a, "rng", rng.str());
  std::vector<int64_t> keeps;
  std::vector<double> scores;
  for (const auto& c : candidates_) {
    keeps.insert(keeps.end(), c.keep.begin(), c.keep.end());
    scores.push_back(c.score);
  }
  PutInts(a, "candidate_keeps", keeps);
  PutDoubles(a, "candidate_scores", scores);
  PutInt(a, "best", best_);
  PutDouble(a, "seconds", seconds_);
  torch::serialize::OutputArchive strategy;
  strategy_->Save(strategy);
  a.write("strategy_state", strategy);
  std::ostringstream out;
  a.save_to(out);
  return out.str();
}

void Search::Restore(const std::string& state) {
  try {
    torch::serialize::InputArchive a;
    std::istringstream in(state);
    a.load_from(in);
    auto mismatch = [](const std::string& what) {
      throw EngineError("INVALID_ARGUMENT", "search checkpoint does not match: " + what);
    };
    if (GetInt(a, "version") != kStateVersion) mismatch("version");
    if (GetString(a, "strategy") != options_.strategy) mismatch("strategy");
    if (GetString(a, "target_kind") != options_.target_kind ||
        GetDouble(a, "target_ratio") != options_.target_ratio) {
      mismatch("target");
    }
    if (GetInt(a, "seed") != static_cast<int64_t>(options_.seed)) mismatch("seed");
    KeepCounts full = FullKeepCounts(analysis_);
    if (GetInts(a, "channels") != full) mismatch("model groups");
    std::istringstream rng(GetString(a, "rng"));
    rng >> rng_;
    if (!rng) mismatch("rng state");
    std::vector<int64_t> keeps = GetInts(a, "candidate_keeps");
    std::vector<double> scores = GetDoubles(a, "candidate_scores");
    size_t g = full.size();
    if (g == 0 ? !keeps.empty() : keeps.size() != scores.size() * g) mismatch("candidates");
    candidates_.clear();
    index_.clear();
    for (size_t i = 0; i < scores.size(); ++i) {
      Candidate c;
      c.keep.assign(keeps.begin() + i * g, keeps.begin() + (i + 1) * g);
      c.score = scores[i];
      ModelCost cost = ComputeCost(analysis_, c.keep);
      c.macs = cost.macs;
      c.params = cost.params;
      c.cost = Cost(c.keep);
      c.feasible = c.cost <= options_.target_ratio * FullCost();
      index_[c.keep] = candidates_.size();
      candidates_.push_back(std::move(c));
    }
    // The best candidate is re-chosen from the candidates (in evaluation
    // order, as Evaluate chose it) rather than read: a latency table
    // re-measured by the resuming worker may judge feasibility differently.
    if (GetInt(a, "best") >= static_cast<int64_t>(candidates_.size())) mismatch("best");
    best_ = -1;
    for (size_t i = 0; i < candidates_.size(); ++i) {
      const Candidate& c = candidates_[i];
      if (c.feasible && (best_ < 0 || BetterCandidate(c, candidates_[best_], options_))) {
        best_ = static_cast<int>(i);
      }
    }
    seconds_ = GetDouble(a, "seconds");
    torch::serialize::InputArchive strategy;
    a.read("strategy_state", strategy);
    strategy_->Load(strategy);
  } catch (const c10::Error& e) {
    throw EngineError("INVALID_ARGUMENT",
                      std::string("bad search checkpoint: ") + e.what_without_backtrace());
  }
}

}  // namespace prune::engine::search
