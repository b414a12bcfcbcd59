#include "latency_table.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <sstream>

#include "engine_error.h"

namespace prune::engine {
namespace {

constexpr const char* kMagic = "prune-latency-table 1";

// Position of x between the ascending points: index i and weight t of point
// i + 1 (t == 0 at or outside the edges, which clamps to them).
std::pair<size_t, double> Bracket(const std::vector<int64_t>& points, double x) {
  if (points.size() < 2 || x <= static_cast<double>(points.front())) return {0, 0.0};
  if (x >= static_cast<double>(points.back())) return {points.size() - 1, 0.0};
  size_t i = 0;
  while (static_cast<double>(points[i + 1]) < x) ++i;
  double lo = static_cast<double>(points[i]);
  double hi = static_cast<double>(points[i + 1]);
  return {i, (x - lo) / (hi - lo)};
}

std::string JoinInts(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

std::string ExactDouble(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

[[noreturn]] void Malformed(const std::string& what) {
  throw EngineError("INVALID_ARGUMENT", "malformed latency table: " + what);
}

std::vector<int64_t> ParseInts(const std::string& s) {
  std::vector<int64_t> v;
  std::istringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      v.push_back(std::stoll(item, &used));
      if (used != item.size()) Malformed("bad integer '" + item + "'");
    } catch (const std::logic_error&) {
      Malformed("bad integer '" + item + "'");
    }
  }
  return v;
}

// Reads "<name> <rest of line>" and checks the name.
std::string Field(std::istream& in, const std::string& name) {
  std::string line;
  if (!std::getline(in, line)) Malformed("missing " + name);
  if (line.compare(0, name.size() + 1, name + " ") != 0) Malformed("expected " + name);
  return line.substr(name.size() + 1);
}

double ParseDouble(const std::string& s) {
  try {
    size_t used = 0;
    double v = std::stod(s, &used);
    if (used != s.size()) Malformed("bad number '" + s + "'");
    return v;
  } catch (const std::logic_error&) {
    Malformed("bad number '" + s + "'");
  }
}

std::vector<int64_t> ReadCounts(std::istream& in) {
  size_t n = 0;
  if (!(in >> n) || n == 0 || n > 4096) Malformed("bad grid size");
  std::vector<int64_t> v(n);
  for (auto& x : v) {
    if (!(in >> x) || x < 1) Malformed("bad channel count");
  }
  if (!std::is_sorted(v.begin(), v.end())) Malformed("grid not ascending");
  return v;
}

}  // namespace

bool LatencyTableKey::operator==(const LatencyTableKey& o) const {
  return model_fingerprint == o.model_fingerprint && input_shape == o.input_shape &&
         batch_size == o.batch_size && device == o.device && torch_version == o.torch_version &&
         grid_points == o.grid_points;
}

std::string LatencyTableKey::Describe() const {
  std::ostringstream s;
  s << "fingerprint " << model_fingerprint << "\n"
    << "input_shape " << JoinInts(input_shape) << "\n"
    << "batch_size " << batch_size << "\n"
    << "device " << device << "\n"
    << "torch_version " << torch_version << "\n"
    << "grid_points " << grid_points << "\n";
  return s.str();
}

double InterpolateMs(const LayerLatencyGrid& grid, double in, double out) {
  auto [i, ti] = Bracket(grid.in_counts, in);
  auto [j, tj] = Bracket(grid.out_counts, out);
  const size_t cols = grid.out_counts.size();
  auto at = [&](size_t a, size_t b) {
    a = std::min(a, grid.in_counts.size() - 1);
    b = std::min(b, cols - 1);
    return grid.ms.at(a * cols + b);
  };
  double low = (1 - tj) * at(i, j) + tj * at(i, j + 1);
  double high = (1 - tj) * at(i + 1, j) + tj * at(i + 1, j + 1);
  return (1 - ti) * low + ti * high;
}

double KeptActivations(const ModelAnalysis& analysis, const ModelCost& cost) {
  double total = 0.0;
  for (size_t i = 0; i < analysis.layers.size(); ++i) {
    total += static_cast<double>(cost.layers[i].out_channels) *
             static_cast<double>(analysis.layers[i].out_spatial);
  }
  return total;
}

double LatencyTable::PredictMs(const ModelAnalysis& analysis, const KeepCounts& keep) const {
  const ModelCost cost = ComputeCost(analysis, keep);
  double ms = 0.0;
  for (const LayerLatencyGrid& grid : layers) {
    const LayerCost& c = cost.layers.at(grid.layer);
    ms += InterpolateMs(grid, static_cast<double>(c.in_channels),
                        static_cast<double>(c.out_channels));
  }
  if (remainder_ms > 0) {
    const ModelCost full = ComputeCost(analysis, FullKeepCounts(analysis));
    const double full_activations = KeptActivations(analysis, full);
    if (full_activations > 0) {
      ms += remainder_ms * KeptActivations(analysis, cost) / full_activations;
    }
  }
  return ms;
}

std::string LatencyTable::Serialize() const {
  std::ostringstream s;
  s << kMagic << "\n" << key.Describe();
  s << "model_ms " << ExactDouble(model_ms) << "\n";
  s << "remainder_ms " << ExactDouble(remainder_ms) << "\n";
  s << "layers " << layers.size() << "\n";
  for (const LayerLatencyGrid& g : layers) {
    s << "layer " << g.layer << " in " << g.in_counts.size();
    for (int64_t c : g.in_counts) s << " " << c;
    s << " out " << g.out_counts.size();
    for (int64_t c : g.out_counts) s << " " << c;
    s << " ms";
    for (double v : g.ms) s << " " << ExactDouble(v);
    s << "\n";
  }
  s << "end\n";
  return s.str();
}

LatencyTable LatencyTable::Parse(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != kMagic) Malformed("not a latency table");
  LatencyTable t;
  t.key.model_fingerprint = Field(in, "fingerprint");
  t.key.input_shape = ParseInts(Field(in, "input_shape"));
  t.key.batch_size = ParseInts(Field(in, "batch_size")).at(0);
  t.key.device = Field(in, "device");
  t.key.torch_version = Field(in, "torch_version");
  t.key.grid_points = static_cast<int>(ParseInts(Field(in, "grid_points")).at(0));
  t.model_ms = ParseDouble(Field(in, "model_ms"));
  t.remainder_ms = ParseDouble(Field(in, "remainder_ms"));
  std::vector<int64_t> count = ParseInts(Field(in, "layers"));
  if (count.size() != 1 || count[0] < 0 || count[0] > 100000) Malformed("bad layer count");
  for (int64_t l = 0; l < count[0]; ++l) {
    if (!std::getline(in, line)) Malformed("missing layer");
    std::istringstream row(line);
    std::string word;
    LayerLatencyGrid g;
    if (!(row >> word) || word != "layer" || !(row >> g.layer) || g.layer < 0) {
      Malformed("bad layer line");
    }
    if (!(row >> word) || word != "in") Malformed("expected in");
    g.in_counts = ReadCounts(row);
    if (!(row >> word) || word != "out") Malformed("expected out");
    g.out_counts = ReadCounts(row);
    if (!(row >> word) || word != "ms") Malformed("expected ms");
    g.ms.resize(g.in_counts.size() * g.out_counts.size());
    for (double& v : g.ms) {
      if (!(row >> v) || !(v >= 0)) Malformed("bad latency");
    }
    if (row >> word) Malformed("trailing data in layer line");
    t.layers.push_back(std::move(g));
  }
  if (!std::getline(in, line) || line != "end") Malformed("missing end");
  return t;
}

std::string ModelFingerprint(const ModelAnalysis& analysis) {
  std::ostringstream s;
  s << JoinInts(analysis.input_shape) << ";";
  for (const PruningGroup& g : analysis.groups) s << g.channels << (g.prunable ? "p" : "f") << ",";
  for (const Layer& l : analysis.layers) {
    s << ";" << l.name << "|" << static_cast<int>(l.kind) << "|" << l.in_group << "|" << l.out_group
      << "|" << l.in_channels << "|" << l.out_channels << "|" << l.conv_groups << "|" << l.depthwise
      << l.transposed << l.has_bias << "|" << l.out_spatial << "|" << l.in_block << "|"
      << JoinInts(l.in_shape) << "|" << JoinInts(l.kernel) << "|" << JoinInts(l.stride) << "|"
      << JoinInts(l.padding) << "|" << JoinInts(l.dilation) << "|" << JoinInts(l.output_padding)
      << "|";
    for (const auto& p : l.in_parts) s << p.group << ":" << p.channels << ":" << p.block << ",";
    s << "|";
    for (const auto& p : l.out_parts) s << p.group << ":" << p.channels << ":" << p.block << ",";
  }
  return HexDigest(s.str());
}

std::string HexDigest(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a 64
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, h);
  return buf;
}

}  // namespace prune::engine
