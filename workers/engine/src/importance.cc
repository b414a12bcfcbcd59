#include "importance.h"

#include <torch/torch.h>

#include <map>
#include <random>

#include "engine_error.h"
#include "evaluate.h"

namespace prune::engine {
namespace {

// Rows of a member tensor: [group.channels, -1], one row per channel.
torch::Tensor ChannelRows(const torch::Tensor& t, const PruningGroup& group,
                          const SliceMember& m) {
  return t.detach()
      .narrow(m.dim, m.offset, group.channels * m.block)
      .to(torch::kCPU, torch::kFloat64)
      .movedim(m.dim, 0)
      .reshape({group.channels, -1});
}

torch::Tensor MemberTensor(const torch::jit::Module& module, const SliceMember& m) {
  return SubmoduleAt(module, m.module_path).attr(m.tensor_name).toTensor();
}

// Per-member scores of the group's producer weights (conv / linear rows).
std::vector<torch::Tensor> ProducerScores(const torch::jit::Module& module,
                                          const PruningGroup& group,
                                          const std::function<torch::Tensor(torch::Tensor)>& f) {
  std::vector<torch::Tensor> scores;
  for (const auto& m : group.members) {
    if (m.role != MemberRole::kProducer || m.tensor_name != "weight") continue;
    scores.push_back(f(ChannelRows(MemberTensor(module, m), group, m)));
  }
  return scores;
}

std::vector<torch::Tensor> MemberScores(const torch::jit::Module& module, const PruningGroup& group,
                                        const ModelAnalysis& analysis,
                                        const ImportanceOptions& options) {
  const std::string& c = options.criterion;
  if (c == "l1") return ProducerScores(module, group, [](torch::Tensor r) { return r.abs().sum(1); });
  if (c == "l2") {
    return ProducerScores(module, group, [](torch::Tensor r) { return r.pow(2).sum(1).sqrt(); });
  }
  if (c == "fpgm") {
    // Sum of distances to the other filters: the filter nearest the geometric
    // median is the most replaceable one (lowest score).
    return ProducerScores(module, group,
                          [](torch::Tensor r) { return torch::cdist(r, r).sum(1); });
  }
  if (c == "bn_scale") {
    std::vector<torch::Tensor> scores;
    for (const auto& m : group.members) {
      if (m.role == MemberRole::kNorm && m.tensor_name == "weight") {
        scores.push_back(ChannelRows(MemberTensor(module, m), group, m).abs().sum(1));
      }
    }
    if (scores.empty()) {  // no batch norm in the group: fall back to L1
      return ProducerScores(module, group, [](torch::Tensor r) { return r.abs().sum(1); });
    }
    return scores;
  }
  if (c == "taylor") {
    if (!options.taylor) {
      throw EngineError("INVALID_ARGUMENT", "importance 'taylor' needs a dataset");
    }
    std::vector<torch::Tensor> scores;
    for (const auto& m : group.members) {
      if (m.role == MemberRole::kConsumer) continue;
      auto it = options.taylor->find(
          m.module_path.empty() ? m.tensor_name : m.module_path + "." + m.tensor_name);
      if (it == options.taylor->end()) continue;
      scores.push_back(ChannelRows(it->second, group, m).sum(1));
    }
    if (scores.empty()) scores.push_back(torch::zeros({group.channels}, torch::kFloat64));
    return scores;
  }
  if (c == "random") {
    std::mt19937_64 rng(options.seed * 1000003ULL + static_cast<uint64_t>(group.id));
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    torch::Tensor s = torch::empty({group.channels}, torch::kFloat64);
    auto* data = s.data_ptr<double>();
    for (int64_t i = 0; i < group.channels; ++i) data[i] = uniform(rng);
    return {s};
  }
  (void)analysis;
  throw EngineError("INVALID_ARGUMENT", "unknown importance '" + c + "'");
}

}  // namespace

bool IsKnownImportance(const std::string& criterion) {
  for (const char* k : {"l1", "l2", "bn_scale", "taylor", "fpgm", "random"}) {
    if (criterion == k) return true;
  }
  return false;
}

std::vector<torch::Tensor> ScoreGroups(const torch::jit::Module& module,
                                       const ModelAnalysis& analysis,
                                       const ImportanceOptions& options) {
  torch::NoGradGuard no_grad;
  if (!IsKnownImportance(options.criterion)) {
    throw EngineError("INVALID_ARGUMENT", "unknown importance '" + options.criterion +
                                              "' (l1, l2, bn_scale, taylor, fpgm, random)");
  }
  const std::string& red = options.reduction;
  if (red != "sum" && red != "mean" && red != "max") {
    throw EngineError("INVALID_ARGUMENT", "unknown group reduction '" + red + "' (sum, mean, max)");
  }
  const std::string& norm = options.normalization;
  if (norm != "mean" && norm != "max" && norm != "sum" && norm != "none") {
    throw EngineError("INVALID_ARGUMENT",
                      "unknown normalization '" + norm + "' (mean, max, sum, none)");
  }
  std::vector<torch::Tensor> result(analysis.groups.size());
  for (const auto& g : analysis.groups) {
    if (!g.prunable) continue;
    std::vector<torch::Tensor> members = MemberScores(module, g, analysis, options);
    torch::Tensor s;
    if (members.empty()) {
      s = torch::zeros({g.channels}, torch::kFloat64);
    } else {
      torch::Tensor stacked = torch::stack(members);
      s = red == "sum" ? stacked.sum(0) : red == "mean" ? stacked.mean(0) : std::get<0>(stacked.max(0));
    }
    if (norm != "none") {
      double d = norm == "mean" ? s.mean().item<double>()
                 : norm == "max" ? s.max().item<double>()
                                 : s.sum().item<double>();
      if (d > 0) s = s / d;
    }
    result[g.id] = s;
  }
  return result;
}

std::map<std::string, torch::Tensor> AccumulateTaylor(torch::jit::Module& module,
                                                      const Dataset& data, int64_t batch_size,
                                                      int64_t batches, const torch::Device& device,
                                                      const CancelToken& cancel) {
  std::map<std::string, torch::Tensor> acc;
  std::vector<bool> required;
  auto params = module.named_parameters(/*recurse=*/true);
  for (const auto& p : params) {
    required.push_back(p.value.requires_grad());
    p.value.requires_grad_(true);
  }
  module.train();
  const int64_t n = data.inputs.size(0);
  const int64_t batch = std::max<int64_t>(2, batch_size);
  int64_t done = 0;
  for (int64_t start = 0; start < n && done < std::max<int64_t>(1, batches); start += batch) {
    ThrowIfCancelled(cancel);
    int64_t end = std::min(n, start + batch);
    if (end - start < 2 && done > 0) break;
    for (const auto& p : params) {
      if (p.value.grad().defined()) p.value.mutable_grad() = torch::Tensor();
    }
    torch::Tensor x = data.inputs.slice(0, start, end).to(device);
    torch::Tensor y = data.targets.slice(0, start, end).to(device);
    c10::IValue out = module.forward({x});
    if (!out.isTensor()) throw EngineError("INVALID_ARGUMENT", "taylor needs a tensor output");
    torch::nn::functional::cross_entropy(out.toTensor(), y).backward();
    torch::NoGradGuard no_grad;
    for (const auto& p : params) {
      if (!p.value.grad().defined()) continue;
      torch::Tensor t = (p.value.detach() * p.value.grad()).abs().to(torch::kCPU, torch::kFloat64);
      auto it = acc.find(p.name);
      if (it == acc.end()) {
        acc.emplace(p.name, t);
      } else {
        it->second += t;
      }
    }
    ++done;
  }
  size_t i = 0;
  for (const auto& p : params) {
    p.value.mutable_grad() = torch::Tensor();
    p.value.requires_grad_(required[i++]);
  }
  module.eval();
  return acc;
}

std::vector<torch::Tensor> ScoreForJob(const JobSpec& spec, torch::jit::Module& module,
                                       const ModelAnalysis& analysis, const Dataset* train,
                                       const torch::Device& device, const CancelToken& cancel) {
  ImportanceOptions options;
  options.criterion = spec.importance;
  options.reduction = spec.group_reduction;
  options.normalization = spec.normalization;
  options.seed = spec.seed;
  std::map<std::string, torch::Tensor> taylor;
  if (spec.importance == "taylor") {
    if (!train) throw EngineError("INVALID_ARGUMENT", "importance 'taylor' needs a dataset");
    taylor = AccumulateTaylor(module, *train, spec.batch_size, spec.taylor_batches, device, cancel);
    options.taylor = &taylor;
  }
  return ScoreGroups(module, analysis, options);
}

const ImportanceFn* FindImportance(const std::string& name) {
  static const auto* table = new std::map<std::string, ImportanceFn>{
      {"l1",
       [](const auto& m, const auto& g) {
         auto s = ProducerScores(m, g, [](torch::Tensor r) { return r.abs().sum(1); });
         return s.empty() ? torch::zeros({g.channels}, torch::kFloat64) : torch::stack(s).sum(0);
       }},
      {"l2",
       [](const auto& m, const auto& g) {
         auto s = ProducerScores(m, g, [](torch::Tensor r) { return r.pow(2).sum(1); });
         return s.empty() ? torch::zeros({g.channels}, torch::kFloat64) : torch::stack(s).sum(0);
       }},
  };
  auto it = table->find(name);
  return it == table->end() ? nullptr : &it->second;
}

}  // namespace prune::engine
