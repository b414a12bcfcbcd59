// AutoSlim-style greedy slimming: starting from the full model, every round
// tries removing one step (step_fraction of its channels) from each decision
// unit, keeps the reduction that costs the least score per unit of cost saved,
// and stops once the target is met. With an accuracy floor it slims on past
// the target while the best reduction still keeps the floor: the smallest
// model that holds it.
#include <algorithm>
#include <cmath>
#include <limits>

#include "search/strategies.h"

namespace prune::engine::search {
namespace {

class AutoSlimStrategy : public Strategy {
 public:
  explicit AutoSlimStrategy(const SearchContext& context)
      : current_(FullKeepCounts(context.analysis())),
        step_fraction_(context.options().autoslim.step_fraction) {}

  bool Done() const override { return done_; }

  void Step(SearchContext& context) override {
    if (!has_baseline_) {
      current_score_ = context.Evaluate(current_);
      has_baseline_ = true;
      done_ = context.Feasible(current_) && !SlimsPastTarget(context);
      return;
    }
    if (round_units_.empty()) {
      for (size_t i = 0; i < context.units().size(); ++i) {
        if (current_[context.units()[i].group] > 1) round_units_.push_back(static_cast<int64_t>(i));
      }
      round_scores_.clear();
      if (round_units_.empty()) {
        done_ = true;
        return;
      }
    }
    const Unit& unit = context.units()[round_units_[round_scores_.size()]];
    round_scores_.push_back(context.Evaluate(Shrunk(unit)));
    if (round_scores_.size() < round_units_.size()) return;

    // End of the round: the cheapest reduction in score per cost saved.
    const double current_cost = context.Cost(current_);
    int best = -1;
    double best_rate = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < round_units_.size(); ++i) {
      KeepCounts cand = Shrunk(context.units()[round_units_[i]]);
      double saved = current_cost - context.Cost(cand);
      if (saved <= 0) continue;
      double rate = (current_score_ - round_scores_[i]) / saved;
      if (best < 0 || rate < best_rate) {
        best = static_cast<int>(i);
        best_rate = rate;
      }
    }
    if (best < 0) {
      done_ = true;
      return;
    }
    if (context.Feasible(current_) && round_scores_[best] < context.options().accuracy_floor) {
      done_ = true;  // past the target, and one more step would break the floor
      return;
    }
    current_ = Shrunk(context.units()[round_units_[best]]);
    current_score_ = round_scores_[best];
    round_units_.clear();
    round_scores_.clear();
    ++rounds_;
    done_ = context.Feasible(current_) && !SlimsPastTarget(context);
  }

  std::string Describe() const override {
    return "round " + std::to_string(rounds_ + 1) + " candidate " +
           std::to_string(round_scores_.size()) + "/" + std::to_string(round_units_.size());
  }

  void Save(torch::serialize::OutputArchive& a) const override {
    PutInts(a, "current", current_);
    PutDouble(a, "current_score", current_score_);
    PutInt(a, "flags", (has_baseline_ ? 1 : 0) | (done_ ? 2 : 0));
    PutInts(a, "round_units", round_units_);
    PutDoubles(a, "round_scores", round_scores_);
    PutInt(a, "rounds", rounds_);
  }

  void Load(torch::serialize::InputArchive& a) override {
    current_ = GetInts(a, "current");
    current_score_ = GetDouble(a, "current_score");
    int64_t flags = GetInt(a, "flags");
    has_baseline_ = flags & 1;
    done_ = flags & 2;
    round_units_ = GetInts(a, "round_units");
    round_scores_ = GetDoubles(a, "round_scores");
    rounds_ = GetInt(a, "rounds");
  }

 private:
  bool SlimsPastTarget(const SearchContext& context) const {
    return context.options().accuracy_floor > 0 && current_score_ >= context.options().accuracy_floor;
  }

  KeepCounts Shrunk(const Unit& unit) const {
    KeepCounts k = current_;
    auto step =
        std::max<int64_t>(1, std::llround(step_fraction_ * static_cast<double>(unit.channels)));
    k[unit.group] = std::max<int64_t>(1, k[unit.group] - step);
    return k;
  }

  KeepCounts current_;
  double step_fraction_;
  double current_score_ = 0.0;
  bool has_baseline_ = false;
  bool done_ = false;
  std::vector<int64_t> round_units_;  // indices into context.units()
  std::vector<double> round_scores_;
  int64_t rounds_ = 0;
};

}  // namespace

std::unique_ptr<Strategy> MakeAutoSlimStrategy(const SearchContext& context) {
  return std::make_unique<AutoSlimStrategy>(context);
}

}  // namespace prune::engine::search
