// AMC (He et al., 2018): a DDPG agent walks the decision units in forward
// order and picks a continuous keep ratio for each; the ratio is clipped so
// that the hard cost target stays reachable with the minimum ratio on every
// later unit. One episode = one candidate; the episode's reward (accuracy, or
// -error * log(FLOPs)) is given to all of its transitions, minus a moving
// average baseline, as in the reference implementation.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "search/strategies.h"

namespace prune::engine::search {
namespace {

constexpr int kStateDim = 10;
constexpr double kBaselineAlpha = 0.5;
constexpr double kFinalInit = 3e-3;

struct ActorImpl : torch::nn::Module {
  ActorImpl(int64_t state, int64_t hidden)
      : fc1(register_module("fc1", torch::nn::Linear(state, hidden))),
        fc2(register_module("fc2", torch::nn::Linear(hidden, hidden))),
        fc3(register_module("fc3", torch::nn::Linear(hidden, 1))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(fc1(x));
    x = torch::relu(fc2(x));
    return torch::sigmoid(fc3(x));
  }
  torch::nn::Linear fc1, fc2, fc3;
};
TORCH_MODULE(Actor);

struct CriticImpl : torch::nn::Module {
  CriticImpl(int64_t state, int64_t hidden)
      : fc11(register_module("fc11", torch::nn::Linear(state, hidden))),
        fc12(register_module("fc12", torch::nn::Linear(1, hidden))),
        fc2(register_module("fc2", torch::nn::Linear(hidden, hidden))),
        fc3(register_module("fc3", torch::nn::Linear(hidden, 1))) {}
  torch::Tensor forward(torch::Tensor s, torch::Tensor a) {
    torch::Tensor x = torch::relu(fc11(s) + fc12(a));
    x = torch::relu(fc2(x));
    return fc3(x);
  }
  torch::nn::Linear fc11, fc12, fc2, fc3;
};
TORCH_MODULE(Critic);

// Fan-in uniform initialisation from the search RNG (no global torch RNG).
void InitLinear(torch::nn::Linear& layer, double bound, std::mt19937_64& rng) {
  torch::NoGradGuard no_grad;
  for (torch::Tensor t : {layer->weight, layer->bias}) {
    std::vector<float> values(static_cast<size_t>(t.numel()));
    for (auto& v : values) v = static_cast<float>((2.0 * Uniform01(rng) - 1.0) * bound);
    t.copy_(torch::tensor(values).reshape(t.sizes()));
  }
}
double FanIn(const torch::nn::Linear& l) { return 1.0 / std::sqrt(l->options.in_features()); }

void SoftUpdate(torch::nn::Module& target, const torch::nn::Module& source, double tau) {
  torch::NoGradGuard no_grad;
  auto t = target.parameters();
  auto s = source.parameters();
  for (size_t i = 0; i < t.size(); ++i) t[i].mul_(1.0 - tau).add_(s[i], tau);
}

std::string SaveArchive(const std::function<void(torch::serialize::OutputArchive&)>& save) {
  torch::serialize::OutputArchive a;
  save(a);
  std::ostringstream out;
  a.save_to(out);
  return out.str();
}

class AmcStrategy : public Strategy {
 public:
  explicit AmcStrategy(const SearchContext& context)
      : options_(context.options().amc),
        full_macs_(static_cast<double>(
            ComputeCost(context.analysis(), FullKeepCounts(context.analysis())).macs)),
        actor_(kStateDim, options_.hidden),
        actor_target_(kStateDim, options_.hidden),
        critic_(kStateDim, options_.hidden),
        critic_target_(kStateDim, options_.hidden),
        actor_optim_(actor_->parameters(), torch::optim::AdamOptions(options_.lr_actor)),
        critic_optim_(critic_->parameters(), torch::optim::AdamOptions(options_.lr_critic)) {
    // Network initialisation draws from a generator seeded like the search,
    // but separate from the search RNG (the context is const here).
    std::mt19937_64 init(context.options().seed ^ 0x9e3779b97f4a7c15ULL);
    InitLinear(actor_->fc1, FanIn(actor_->fc1), init);
    InitLinear(actor_->fc2, FanIn(actor_->fc2), init);
    InitLinear(actor_->fc3, kFinalInit, init);
    InitLinear(critic_->fc11, FanIn(critic_->fc11), init);
    InitLinear(critic_->fc12, FanIn(critic_->fc12), init);
    InitLinear(critic_->fc2, FanIn(critic_->fc2), init);
    InitLinear(critic_->fc3, kFinalInit, init);
    {
      // Deviation from the AMC code (whose untrained actor outputs ~0.5 for
      // every target): the actor starts at the uniform keep ratio that meets
      // the target, so short CPU searches explore around a feasible,
      // budget-filling policy instead of first learning to use the budget.
      torch::NoGradGuard no_grad;
      double r = std::clamp(UniformRatio(context), 0.05, 0.95);
      actor_->fc3->bias.fill_(std::log(r / (1.0 - r)));
    }
    SoftUpdate(*actor_target_, *actor_, 1.0);
    SoftUpdate(*critic_target_, *critic_, 1.0);
    sigma_ = options_.noise_sigma;
    BuildStaticFeatures(context);
  }

  bool Done() const override { return episode_ >= options_.warmup_episodes + options_.episodes; }

  std::string Describe() const override {
    return "episode " + std::to_string(episode_) + "/" +
           std::to_string(options_.warmup_episodes + options_.episodes);
  }

  void Step(SearchContext& context) override {
    torch::AutoGradMode grad(true);
    const auto& units = context.units();
    const size_t n = units.size();
    KeepCounts keep = FullKeepCounts(context.analysis());
    const bool warmup = episode_ < options_.warmup_episodes;
    std::vector<std::vector<float>> states;
    std::vector<float> actions;
    double prev_action = 1.0;
    for (size_t t = 0; t < n; ++t) {
      states.push_back(State(context, keep, t, prev_action));
      double a;
      if (warmup) {
        a = options_.min_ratio + (1.0 - options_.min_ratio) * Uniform01(context.rng());
      } else {
        double mu;
        {
          torch::NoGradGuard no_grad;
          mu = actor_->forward(torch::tensor(states.back()).unsqueeze(0)).item<double>();
        }
        a = TruncatedNormal(context.rng(), mu, sigma_);
      }
      const Unit& u = units[t];
      int64_t k = std::clamp<int64_t>(std::llround(a * static_cast<double>(u.channels)),
                                      min_keep_[t], u.channels);
      k = std::min(k, MaxKeep(context, keep, t));
      keep[u.group] = k;
      prev_action = static_cast<double>(k) / static_cast<double>(u.channels);
      actions.push_back(static_cast<float>(prev_action));
    }
    double score = context.Evaluate(keep);
    const double reward =
        AmcReward(options_.reward, score, context.Cost(keep), context.FullCost(), full_macs_);
    for (size_t t = 0; t < n; ++t) {
      const std::vector<float>& next = t + 1 < n ? states[t + 1] : states[t];
      Store(states[t], actions[t], static_cast<float>(reward), next, t + 1 == n);
    }
    if (!warmup) {
      for (size_t t = 0; t < n; ++t) UpdatePolicy(context.rng());
      sigma_ *= options_.noise_decay;
    }
    ++episode_;
  }

  void Save(torch::serialize::OutputArchive& a) const override {
    PutInt(a, "episode", episode_);
    PutDouble(a, "sigma", sigma_);
    PutDouble(a, "baseline", baseline_);
    PutInt(a, "has_baseline", has_baseline_ ? 1 : 0);
    PutString(a, "actor", SaveArchive([&](auto& o) { actor_->save(o); }));
    PutString(a, "actor_target", SaveArchive([&](auto& o) { actor_target_->save(o); }));
    PutString(a, "critic", SaveArchive([&](auto& o) { critic_->save(o); }));
    PutString(a, "critic_target", SaveArchive([&](auto& o) { critic_target_->save(o); }));
    PutString(a, "actor_optim", SaveArchive([&](auto& o) { actor_optim_.save(o); }));
    PutString(a, "critic_optim", SaveArchive([&](auto& o) { critic_optim_.save(o); }));
    PutDoubles(a, "replay_states", std::vector<double>(states_.begin(), states_.end()));
    PutDoubles(a, "replay_next", std::vector<double>(next_states_.begin(), next_states_.end()));
    PutDoubles(a, "replay_actions", std::vector<double>(actions_.begin(), actions_.end()));
    PutDoubles(a, "replay_rewards", std::vector<double>(rewards_.begin(), rewards_.end()));
    PutDoubles(a, "replay_done", std::vector<double>(done_.begin(), done_.end()));
    PutInt(a, "replay_next_slot", static_cast<int64_t>(next_slot_));
  }

  void Load(torch::serialize::InputArchive& a) override {
    episode_ = static_cast<int>(GetInt(a, "episode"));
    sigma_ = GetDouble(a, "sigma");
    baseline_ = GetDouble(a, "baseline");
    has_baseline_ = GetInt(a, "has_baseline") != 0;
    auto load = [&](const std::string& key,
                    const std::function<void(torch::serialize::InputArchive&)>& fn) {
      std::istringstream in(GetString(a, key));
      torch::serialize::InputArchive nested;
      nested.load_from(in);
      fn(nested);
    };
    load("actor", [&](auto& i) { actor_->load(i); });
    load("actor_target", [&](auto& i) { actor_target_->load(i); });
    load("critic", [&](auto& i) { critic_->load(i); });
    load("critic_target", [&](auto& i) { critic_target_->load(i); });
    load("actor_optim", [&](auto& i) { actor_optim_.load(i); });
    load("critic_optim", [&](auto& i) { critic_optim_.load(i); });
    auto floats = [&](const std::string& key) {
      std::vector<double> d = GetDoubles(a, key);
      return std::vector<float>(d.begin(), d.end());
    };
    states_ = floats("replay_states");
    next_states_ = floats("replay_next");
    actions_ = floats("replay_actions");
    rewards_ = floats("replay_rewards");
    done_ = floats("replay_done");
    next_slot_ = static_cast<size_t>(GetInt(a, "replay_next_slot"));
  }

 private:
  void BuildStaticFeatures(const SearchContext& context) {
    const auto& units = context.units();
    const auto& layers = context.analysis().layers;
    const size_t n = units.size();
    static_.assign(n, std::vector<double>(7, 0.0));
    KeepCounts full = FullKeepCounts(context.analysis());
    ModelCost cost = ComputeCost(context.analysis(), full);
    for (size_t t = 0; t < n; ++t) {
      auto& f = static_[t];
      f[0] = n > 1 ? static_cast<double>(t) / static_cast<double>(n - 1) : 0.0;
      f[3] = static_cast<double>(units[t].channels);
      if (units[t].layer >= 0) {
        const Layer& l = layers[units[t].layer];
        f[1] = l.kind == LayerKind::kConv ? 1.0 : 0.0;
        f[2] = static_cast<double>(l.in_channels);
        f[4] = std::log(static_cast<double>(l.out_spatial) + 1.0);
        f[5] = static_cast<double>(l.kernel_elements);
        f[6] = static_cast<double>(cost.layers[units[t].layer].params);
      }
    }
    for (int j = 2; j < 7; ++j) {  // min-max normalisation over units
      double lo = 1e300, hi = -1e300;
      for (const auto& f : static_) lo = std::min(lo, f[j]), hi = std::max(hi, f[j]);
      for (auto& f : static_) f[j] = hi > lo ? (f[j] - lo) / (hi - lo) : 0.0;
    }
    // Minimum keep counts; 1 channel per unit if min_ratio everywhere misses the target.
    KeepCounts k = full;
    for (const Unit& u : units) {
      min_keep_.push_back(std::clamp<int64_t>(
          std::llround(options_.min_ratio * static_cast<double>(u.channels)), 1, u.channels));
      k[u.group] = min_keep_.back();
    }
    if (!context.Feasible(k)) std::fill(min_keep_.begin(), min_keep_.end(), 1);
    // Cost of each unit's layers when everything else is full: "FLOPs left".
    full_cost_ = context.FullCost();
    for (size_t t = 0; t < n; ++t) {
      KeepCounts one = full;
      one[units[t].group] = 1;
      unit_cost_.push_back((full_cost_ - context.Cost(one)) / full_cost_);
    }
  }

  // Largest r with max(1, round(r * C)) channels in every unit within the target.
  static double UniformRatio(const SearchContext& context) {
    auto feasible = [&](double r) {
      KeepCounts k = FullKeepCounts(context.analysis());
      for (const Unit& u : context.units()) {
        k[u.group] =
            std::clamp<int64_t>(std::llround(r * static_cast<double>(u.channels)), 1, u.channels);
      }
      return context.Feasible(k);
    };
    double lo = 0.0;
    double hi = 1.0;
    for (int i = 0; i < 30; ++i) {
      double mid = 0.5 * (lo + hi);
      (feasible(mid) ? lo : hi) = mid;
    }
    return lo;
  }

  std::vector<float> State(const SearchContext& context, const KeepCounts& keep, size_t t,
                           double prev_action) const {
    std::vector<float> s(kStateDim);
    for (int j = 0; j < 7; ++j) s[j] = static_cast<float>(static_[t][j]);
    double reduced = (full_cost_ - context.Cost(keep)) / full_cost_;
    double rest = 0.0;
    for (size_t r = t + 1; r < unit_cost_.size(); ++r) rest += unit_cost_[r];
    s[7] = static_cast<float>(reduced);
    s[8] = static_cast<float>(std::min(1.0, rest));
    s[9] = static_cast<float>(prev_action);
    return s;
  }

  // Largest keep count of unit t (earlier units as decided, later ones at
  // their minimum) that still meets the target.
  int64_t MaxKeep(const SearchContext& context, KeepCounts keep, size_t t) const {
    const auto& units = context.units();
    for (size_t r = t + 1; r < units.size(); ++r) keep[units[r].group] = min_keep_[r];
    int64_t lo = min_keep_[t];
    int64_t hi = units[t].channels;
    keep[units[t].group] = hi;
    if (context.Feasible(keep)) return hi;
    while (hi - lo > 1) {  // lo feasible (invariant), hi not
      int64_t mid = (lo + hi) / 2;
      keep[units[t].group] = mid;
      (context.Feasible(keep) ? lo : hi) = mid;
    }
    return lo;
  }

  double TruncatedNormal(std::mt19937_64& rng, double mu, double sigma) const {
    for (int i = 0; i < 100; ++i) {
      double v = mu + sigma * StandardNormal(rng);
      if (v >= options_.min_ratio && v <= 1.0) return v;
    }
    return std::clamp(mu, options_.min_ratio, 1.0);
  }

  void Store(const std::vector<float>& s, float a, float r, const std::vector<float>& next,
             bool done) {
    const size_t cap = static_cast<size_t>(options_.replay_capacity);
    size_t slot;
    if (actions_.size() < cap) {
      slot = actions_.size();
      states_.resize(states_.size() + kStateDim);
      next_states_.resize(next_states_.size() + kStateDim);
      actions_.push_back(0);
      rewards_.push_back(0);
      done_.push_back(0);
    } else {
      slot = next_slot_;
      next_slot_ = (next_slot_ + 1) % cap;
    }
    std::copy(s.begin(), s.end(), states_.begin() + slot * kStateDim);
    std::copy(next.begin(), next.end(), next_states_.begin() + slot * kStateDim);
    actions_[slot] = a;
    rewards_[slot] = r;
    done_[slot] = done ? 1.0f : 0.0f;
  }

  void UpdatePolicy(std::mt19937_64& rng) {
    const auto size = static_cast<int64_t>(actions_.size());
    const int64_t b = std::min<int64_t>(options_.batch_size, size);
    std::vector<int64_t> idx(b);
    for (auto& i : idx) i = UniformInt(rng, 0, size - 1);
    torch::Tensor index = torch::tensor(idx, torch::kInt64);
    auto view = [&](std::vector<float>& v, int64_t width) {
      return torch::from_blob(v.data(), {size, width}, torch::kFloat32).index_select(0, index);
    };
    torch::Tensor s = view(states_, kStateDim);
    torch::Tensor s1 = view(next_states_, kStateDim);
    torch::Tensor a = view(actions_, 1);
    torch::Tensor r = view(rewards_, 1);
    torch::Tensor d = view(done_, 1);
    double mean = r.mean().item<double>();
    baseline_ = has_baseline_ ? baseline_ + kBaselineAlpha * (mean - baseline_) : mean;
    has_baseline_ = true;
    torch::Tensor y;
    {
      torch::NoGradGuard no_grad;
      torch::Tensor q1 = critic_target_->forward(s1, actor_target_->forward(s1));
      y = (r - baseline_) + options_.discount * (1.0 - d) * q1;
    }
    critic_optim_.zero_grad();
    torch::Tensor critic_loss = torch::mse_loss(critic_->forward(s, a), y);
    critic_loss.backward();
    critic_optim_.step();

    actor_optim_.zero_grad();
    torch::Tensor actor_loss = -critic_->forward(s, actor_->forward(s)).mean();
    actor_loss.backward();
    actor_optim_.step();

    SoftUpdate(*actor_target_, *actor_, options_.tau);
    SoftUpdate(*critic_target_, *critic_, options_.tau);
  }

  AmcOptions options_;
  double full_macs_;  // the original model's MACs (the reward's scale)
  Actor actor_, actor_target_;
  Critic critic_, critic_target_;
  torch::optim::Adam actor_optim_, critic_optim_;
  std::vector<std::vector<double>> static_;  // normalised static features per unit
  std::vector<int64_t> min_keep_;
  std::vector<double> unit_cost_;
  double full_cost_ = 1.0;
  int episode_ = 0;
  double sigma_ = 0.5;
  double baseline_ = 0.0;
  bool has_baseline_ = false;
  // Replay buffer (ring, row-major).
  std::vector<float> states_, next_states_, actions_, rewards_, done_;
  size_t next_slot_ = 0;
};

}  // namespace

std::unique_ptr<Strategy> MakeAmcStrategy(const SearchContext& context) {
  return std::make_unique<AmcStrategy>(context);
}

double AmcReward(const std::string& mode, double score, double cost, double full_cost,
                 double full_macs) {
  if (mode != "error_log_flops") return score;
  const double resource = full_macs * cost / std::max(full_cost, 1e-12);
  return -(1.0 - score) * std::log(std::max(resource, 1.0));
}

}  // namespace prune::engine::search
