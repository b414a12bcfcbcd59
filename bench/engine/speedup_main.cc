// Latency of an original and a pruned TorchScript model, timed interleaved.
//
//   prune-speedup-bench ORIGINAL.pt PRUNED.pt INPUT_SHAPE BATCH ROUNDS [device=cpu|cuda]
//
// INPUT_SHAPE is like 1,3,224,224 (its batch dim is replaced by BATCH). Each
// round times one forward pass of the original and one of the pruned model,
// in alternating order, after two warm-up passes each; both as saved
// ("module") and as deployed, torch.jit.optimize_for_inference(
// torch.jit.freeze(m)) ("optimized", src/inference_optimization.h).
// Timing the two models minutes apart, as a job's report does, lets the load
// of a shared machine drift between them; alternating pass by pass exposes
// both to the same load, and the median of the per-round ratios is what the
// benchmark reports. Prints one JSON object.
#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "engine_error.h"
#include "inference_optimization.h"
#include "measure.h"

using namespace prune::engine;

namespace {

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

struct PairTiming {
  double original_ms = 0;
  double pruned_ms = 0;
  double speedup = 0;  // median over rounds of original / pruned
};

PairTiming TimeInterleaved(torch::jit::Module& original, torch::jit::Module& pruned,
                           const torch::Tensor& input, int rounds, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  std::vector<c10::IValue> inputs{input};
  auto once = [&](torch::jit::Module& m) {
    return MedianWallMs([&] { m.forward(inputs); }, /*warmup=*/0, /*runs=*/1, device);
  };
  for (int i = 0; i < 2; ++i) {
    once(original);
    once(pruned);
  }
  std::vector<double> a, b, ratios;
  for (int r = 0; r < rounds; ++r) {
    // Alternate which model goes first so neither always runs on a cache
    // the other warmed.
    double ta = 0, tb = 0;
    if (r % 2 == 0) {
      ta = once(original);
      tb = once(pruned);
    } else {
      tb = once(pruned);
      ta = once(original);
    }
    a.push_back(ta);
    b.push_back(tb);
    ratios.push_back(ta / tb);
  }
  return PairTiming{Median(a), Median(b), Median(ratios)};
}

std::vector<int64_t> ParseShape(const std::string& text) {
  std::vector<int64_t> shape;
  std::stringstream parts(text);
  std::string part;
  while (std::getline(parts, part, ',')) shape.push_back(std::stoll(part));
  return shape;
}

std::string Json(const PairTiming& t) {
  char buffer[160];
  std::snprintf(buffer, sizeof buffer, "{\"original_ms\":%.3f,\"pruned_ms\":%.3f,\"speedup\":%.4f}",
                t.original_ms, t.pruned_ms, t.speedup);
  return buffer;
}

std::string Quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s ORIGINAL PRUNED INPUT_SHAPE BATCH ROUNDS [device]\n", argv[0]);
    return 2;
  }
  std::vector<int64_t> shape = ParseShape(argv[3]);
  shape.at(0) = std::stoll(argv[4]);
  const int rounds = std::stoi(argv[5]);
  const torch::Device device(argc > 6 ? argv[6] : "cpu");
  torch::jit::Module original = torch::jit::load(argv[1], device);
  torch::jit::Module pruned = torch::jit::load(argv[2], device);
  original.eval();
  pruned.eval();
  torch::manual_seed(0);
  const torch::Tensor input = torch::randn(shape).to(device);

  PairTiming module = TimeInterleaved(original, pruned, input, rounds, device);
  std::string optimized = "null";
  std::optional<std::string> error;
  try {
    const torch::Tensor check = input.slice(0, 0, 2);
    torch::jit::Module original_optimized = OptimizedForInference(original, check);
    torch::jit::Module pruned_optimized = OptimizedForInference(pruned, check);
    optimized = Json(TimeInterleaved(original_optimized, pruned_optimized, input, rounds, device));
  } catch (const std::exception& e) {
    error = e.what();
  }
  std::printf("{\"batch\":%lld,\"rounds\":%d,\"module\":%s,\"optimized\":%s", (long long)shape[0],
              rounds, Json(module).c_str(), optimized.c_str());
  if (error) std::printf(",\"optimized_error\":%s", Quoted(*error).c_str());
  std::printf("}\n");
  return 0;
}
