#include "search/search_job.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "engine_error.h"
#include "search/pruning_net.h"
#include "search/scorer.h"

namespace prune::engine::search {

SearchOptions SearchOptionsFromSpec(const JobSpec& spec) {
  SearchOptions o;
  o.strategy = spec.strategy;
  o.target_kind = spec.target_kind;
  o.target_ratio = spec.target_ratio;
  o.accuracy_floor = spec.accuracy_floor;
  o.seed = spec.seed;
  o.max_seconds = spec.search_seconds;
  o.checkpoint_every = spec.search_checkpoint_every;
  if (spec.amc_episodes > 0) o.amc.episodes = spec.amc_episodes;
  if (spec.amc_warmup_episodes >= 0) o.amc.warmup_episodes = spec.amc_warmup_episodes;
  if (spec.evo_generations > 0) o.evo.generations = spec.evo_generations;
  if (!spec.metapruning_mode.empty()) o.evo.mode = spec.metapruning_mode;
  if (spec.autoslim_step > 0) o.autoslim.step_fraction = spec.autoslim_step;
  if (spec.evo_population > 0) {
    o.evo.population = spec.evo_population;
    o.evo.parents = std::max(1, std::min(o.evo.parents, spec.evo_population / 2));
  }
  o.max_evaluations =
      spec.search_max_evaluations > 0 ? spec.search_max_evaluations : DefaultMaxEvaluations(o);
  return o;
}

SearchResult RunSearchForJob(const JobSpec& spec, const torch::jit::Module& original,
                             const ModelAnalysis& analysis, const DatasetSplit& split,
                             const torch::Device& device, const CancelToken& cancel,
                             const CostModel& cost,
                             const std::function<void(double, const std::string&)>& on_progress,
                             const std::vector<torch::Tensor>* channel_scores,
                             torch::jit::Module* weights_source) {
  const int64_t n = split.train.inputs.size(0);
  if (n < 2) throw EngineError("DATASET_INVALID", "search needs at least 2 training samples");
  int64_t held = spec.search_eval_samples > 0 ? spec.search_eval_samples : 500;
  held = std::clamp<int64_t>(held, 1, n / 2);
  Dataset calibration{split.train.inputs.slice(0, 0, n - held),
                      split.train.targets.slice(0, 0, n - held)};
  Dataset held_out{split.train.inputs.slice(0, n - held), split.train.targets.slice(0, n - held)};
  ScorerOptions scorer_options;
  scorer_options.batch_size = spec.batch_size;
  scorer_options.calibration_batches =
      spec.search_calibration_batches > 0 ? spec.search_calibration_batches : 5;
  if (channel_scores) scorer_options.channel_scores = *channel_scores;
  SearchOptions options = SearchOptionsFromSpec(spec);
  std::unique_ptr<PruningNet> net;
  if (options.strategy == "metapruning" && options.evo.mode == "pruningnet") {
    PruningNetOptions net_options;
    if (spec.pruningnet_steps > 0) net_options.steps = spec.pruningnet_steps;
    net = std::make_unique<PruningNet>(original, analysis, net_options, spec.seed);
    scorer_options.weight_source = [&net](const std::string& path, const std::string& name,
                                          const KeepCounts& keep) {
      return net->Generate(path, name, keep);
    };
  }
  InheritedWeightScorer scorer(original, analysis, calibration, held_out, scorer_options, device);
  double meta_loss = 0.0;
  double meta_seconds = 0.0;
  if (net) {
    if (on_progress) on_progress(0.0, "meta-training PruningNet");
    auto start = std::chrono::steady_clock::now();
    meta_loss =
        net->MetaTrain(scorer, DecisionUnits(analysis), calibration, spec.batch_size, cancel);
    meta_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  Search search(analysis, options, &scorer, cost);
  if (!spec.search_resume_state.empty()) search.Restore(spec.search_resume_state);
  SearchResult result = search.Run(
      cancel,
      [&](const SearchProgress& p) {
        if (on_progress) on_progress(p.fraction, p.message);
      },
      spec.on_checkpoint);
  if (net) {
    // The final widths use inherited or generated weights, whichever scores better.
    result.meta_train_loss = meta_loss;
    result.meta_train_seconds = meta_seconds;
    result.generated_score = result.best.score;
    scorer.set_use_weight_source(false);
    result.inherited_score = scorer.Score(result.keep, cancel);
    if (result.generated_score > result.inherited_score && weights_source) {
      torch::jit::Module copy = original.clone();
      net->ApplyTo(copy, result.keep);
      *weights_source = copy;
      result.weights = "generated";
    }
  }
  return result;
}

void WriteSearchSection(JsonWriter& json, const JobSpec& spec, const SearchResult& result) {
  SearchOptions o = SearchOptionsFromSpec(spec);
  json.BeginObject();
  json.Key("strategy").String(o.strategy);
  json.Key("settings").BeginObject();
  json.Key("max_evaluations").Int(o.max_evaluations);
  json.Key("max_seconds").Number(o.max_seconds);
  json.Key("accuracy_floor").Number(o.accuracy_floor);
  json.Key("seed").Int(static_cast<int64_t>(o.seed));
  json.Key("eval_samples").Int(spec.search_eval_samples > 0 ? spec.search_eval_samples : 500);
  json.Key("calibration_batches")
      .Int(spec.search_calibration_batches > 0 ? spec.search_calibration_batches : 5);
  json.Key("resumed").Bool(!spec.search_resume_state.empty());
  if (o.strategy == "amc") {
    json.Key("amc").BeginObject();
    json.Key("warmup_episodes").Int(o.amc.warmup_episodes);
    json.Key("episodes").Int(o.amc.episodes);
    json.Key("hidden").Int(o.amc.hidden);
    json.Key("lr_actor").Number(o.amc.lr_actor);
    json.Key("lr_critic").Number(o.amc.lr_critic);
    json.Key("tau").Number(o.amc.tau);
    json.Key("noise_sigma").Number(o.amc.noise_sigma);
    json.Key("noise_decay").Number(o.amc.noise_decay);
    json.Key("reward").String(o.amc.reward);
    json.EndObject();
  } else if (o.strategy == "metapruning") {
    json.Key("evolution").BeginObject();
    json.Key("mode").String(o.evo.mode);
    json.Key("generations").Int(o.evo.generations);
    json.Key("population").Int(o.evo.population);
    json.Key("parents").Int(o.evo.parents);
    json.Key("mutation_prob").Number(o.evo.mutation_prob);
    json.EndObject();
  } else if (o.strategy == "autoslim") {
    json.Key("autoslim").BeginObject().Key("step_fraction").Number(o.autoslim.step_fraction);
    json.EndObject();
  }
  json.EndObject();
  json.Key("evaluations").Int(result.evaluations);
  json.Key("wall_seconds").Number(result.seconds);
  json.Key("evaluations_per_second")
      .Number(result.seconds > 0 ? result.evaluations / result.seconds : 0.0);
  json.Key("stopped_by").String(result.stopped_by);
  json.Key("best_score").Number(result.best.score);
  json.Key("best_macs").Int(result.best.macs);
  json.Key("best_params").Int(result.best.params);
  json.Key("best_cost_ratio")
      .Number(result.full_cost > 0 ? result.best.cost / result.full_cost : 0.0);
  json.Key("floor_met").Bool(result.floor_met);
  if (o.strategy == "metapruning" && o.evo.mode == "pruningnet") {
    json.Key("pruningnet").BeginObject();
    json.Key("steps").Int(spec.pruningnet_steps > 0 ? spec.pruningnet_steps : 200);
    json.Key("meta_train_loss").Number(result.meta_train_loss);
    json.Key("meta_train_seconds").Number(result.meta_train_seconds);
    json.Key("generated_score").Number(result.generated_score);
    json.Key("inherited_score").Number(result.inherited_score);
    json.Key("weights").String(result.weights);
    json.EndObject();
  }
  json.Key("keep").BeginArray();
  for (size_t g = 0; g < result.keep.size(); ++g) json.Int(result.keep[g]);
  json.EndArray();
  json.EndObject();
}

void WriteCandidates(JsonWriter& json, const SearchResult& result, const ModelAnalysis& analysis,
                     size_t cap) {
  (void)analysis;
  const auto& c = result.candidates;
  std::vector<bool> chosen(c.size(), false);
  size_t count = 0;
  for (size_t i = 0; i < c.size() && count < cap; ++i) {
    if (c[i].pareto || c[i].keep == result.keep) chosen[i] = true, ++count;
  }
  for (size_t i = 0; i < c.size() && count < cap; ++i) {
    if (!chosen[i]) chosen[i] = true, ++count;
  }
  json.BeginArray();
  for (size_t i = 0; i < c.size(); ++i) {
    if (!chosen[i]) continue;
    json.BeginObject();
    json.Key("index").Int(static_cast<int64_t>(i));
    json.Key("keep").BeginArray();
    for (int64_t k : c[i].keep) json.Int(k);
    json.EndArray();
    json.Key("macs").Int(c[i].macs);
    json.Key("params").Int(c[i].params);
    json.Key("cost_ratio").Number(result.full_cost > 0 ? c[i].cost / result.full_cost : 0.0);
    json.Key("score").Number(c[i].score);
    json.Key("feasible").Bool(c[i].feasible);
    json.Key("pareto").Bool(c[i].pareto);
    json.EndObject();
  }
  json.EndArray();
}

}  // namespace prune::engine::search
