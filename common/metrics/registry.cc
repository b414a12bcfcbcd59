#include "common/metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace prune::metrics {
namespace {

// std::atomic<double>::fetch_add is C++20.
void AtomicAdd(std::atomic<double>& target, double amount) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + amount, std::memory_order_relaxed)) {
  }
}

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length;
  unsigned char min_second = 0x80;
  unsigned char max_second = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) min_second = 0xA0;  // overlong
    if (lead == 0xED) max_second = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) min_second = 0x90;  // overlong
    if (lead == 0xF4) max_second = 0x8F;  // > U+10FFFF
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  if (byte(i + 1) < min_second || byte(i + 1) > max_second) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

bool IsValidUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t length = Utf8SequenceLength(s, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

// Prometheus rejects label values that are not UTF-8; repair rather than fail
// a scrape because some caller passed arbitrary bytes.
std::string RepairUtf8(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t length = Utf8SequenceLength(s, i);
    if (length == 0) {
      out.append("\xEF\xBF\xBD");  // U+FFFD
      ++i;
    } else {
      out.append(s.data() + i, length);
      i += length;
    }
  }
  return out;
}

std::vector<std::string> SeriesNames(absl::string_view name, MetricType type) {
  if (type == MetricType::kHistogram) {
    return {absl::StrCat(name, "_bucket"), absl::StrCat(name, "_sum"),
            absl::StrCat(name, "_count")};
  }
  return {std::string(name)};
}

template <typename Metric, typename Append>
FamilySnapshot CollectChildren(FamilySnapshot snapshot, std::shared_mutex& mu,
                               const std::map<LabelValues, std::unique_ptr<Metric>>& children,
                               Append append) {
  std::shared_lock<std::shared_mutex> lock(mu);
  for (const auto& [label_values, child] : children) append(&snapshot, label_values, *child);
  return snapshot;
}

}  // namespace

void Counter::Increment(double amount) {
  if (!(amount >= 0.0)) return;  // also rejects NaN
  AtomicAdd(value_, amount);
}

void Gauge::Increment(double amount) { AtomicAdd(value_, amount); }

Histogram::Histogram(std::shared_ptr<const std::vector<double>> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      counts_(new std::atomic<std::uint64_t>[upper_bounds_->size() + 1]) {
  for (size_t i = 0; i <= upper_bounds_->size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  // Buckets are "less than or equal": the first bound >= value.
  const auto it = std::lower_bound(upper_bounds_->begin(), upper_bounds_->end(), value);
  counts_[it - upper_bounds_->begin()].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, value);
}

Histogram::Snapshot Histogram::TakeSnapshot() const {
  Snapshot snapshot;
  snapshot.cumulative_counts.reserve(upper_bounds_->size() + 1);
  std::uint64_t running = 0;
  for (size_t i = 0; i <= upper_bounds_->size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative_counts.push_back(running);
  }
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type,
                       std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)) {}

FamilySnapshot FamilyBase::EmptySnapshot() const {
  FamilySnapshot snapshot;
  snapshot.name = name_;
  snapshot.help = help_;
  snapshot.type = type_;
  snapshot.label_names = label_names_;
  return snapshot;
}

absl::StatusOr<LabelValues> FamilyBase::CheckLabelValues(LabelValues values) const {
  if (values.size() != label_names_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("metric ", name_, " takes ", label_names_.size(),
                                                   " label values, got ", values.size()));
  }
  for (std::string& value : values) {
    if (!IsValidUtf8(value)) value = RepairUtf8(value);
  }
  return values;
}

template <>
FamilySnapshot Family<Counter>::Collect() const {
  return CollectChildren(EmptySnapshot(), mu_, children_,
                         [](FamilySnapshot* out, const LabelValues& labels, const Counter& c) {
                           out->samples.push_back({labels, c.Value()});
                         });
}

template <>
FamilySnapshot Family<Gauge>::Collect() const {
  return CollectChildren(EmptySnapshot(), mu_, children_,
                         [](FamilySnapshot* out, const LabelValues& labels, const Gauge& g) {
                           out->samples.push_back({labels, g.Value()});
                         });
}

template <>
FamilySnapshot Family<Histogram>::Collect() const {
  FamilySnapshot snapshot = EmptySnapshot();
  snapshot.upper_bounds = discarded_->upper_bounds();
  return CollectChildren(std::move(snapshot), mu_, children_,
                         [](FamilySnapshot* out, const LabelValues& labels, const Histogram& h) {
                           out->histograms.push_back({labels, h.TakeSnapshot()});
                         });
}

CallbackGaugeFamily::CallbackGaugeFamily(std::string name, std::string help,
                                         std::vector<std::string> label_names)
    : FamilyBase(std::move(name), std::move(help), MetricType::kGauge, std::move(label_names)) {}

void CallbackGaugeFamily::SetCallback(Callback callback) {
  Callback old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old = std::exchange(callback_, std::move(callback));
  }
  // `old` (and whatever it captured) is destroyed outside the lock.
}

FamilySnapshot CallbackGaugeFamily::Collect() const {
  FamilySnapshot snapshot = EmptySnapshot();
  std::vector<Sample> rows;
  {
    // Held while the callback runs so that ClearCallback() waits for it.
    std::lock_guard<std::mutex> lock(mu_);
    if (callback_) rows = callback_();
  }
  std::map<LabelValues, double> series;
  for (Sample& row : rows) {
    absl::StatusOr<LabelValues> labels = CheckLabelValues(std::move(row.label_values));
    if (labels.ok()) series.emplace(*std::move(labels), row.value);
  }
  for (auto& [labels, value] : series) snapshot.samples.push_back({labels, value});
  return snapshot;
}

bool IsValidMetricName(absl::string_view name) {
  if (name.empty() || !(IsNameStart(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsNameStart(c) || IsDigit(c) || c == ':'; });
}

bool IsValidLabelName(absl::string_view name) {
  if (name.empty() || !IsNameStart(name[0]) || absl::StartsWith(name, "__")) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsNameStart(c) || IsDigit(c); });
}

absl::StatusOr<std::vector<double>> NormalizeBuckets(std::vector<double> upper_bounds) {
  if (!upper_bounds.empty() && upper_bounds.back() == std::numeric_limits<double>::infinity()) {
    upper_bounds.pop_back();
  }
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram bucket ", i, " is not finite: ", upper_bounds[i]));
    }
    if (i > 0 && !(upper_bounds[i - 1] < upper_bounds[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram buckets must be strictly "
                       "increasing: ",
                       upper_bounds[i - 1], " then ", upper_bounds[i]));
    }
  }
  return upper_bounds;
}

absl::StatusOr<std::vector<double>> ExponentialBuckets(double start, double factor, int count) {
  if (!(start > 0.0) || !(factor > 1.0) || count < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("exponential buckets need start > 0, factor > 1, "
                     "count >= 1; got ",
                     start, ", ", factor, ", ", count));
  }
  std::vector<double> buckets;
  buckets.reserve(count);
  double bound = start;
  for (int i = 0; i < count; ++i, bound *= factor) buckets.push_back(bound);
  return NormalizeBuckets(std::move(buckets));
}

absl::StatusOr<std::vector<double>> LinearBuckets(double start, double width, int count) {
  if (!std::isfinite(start) || !(width > 0.0) || count < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("linear buckets need finite start, width > 0, count >= 1; got ", start, ", ",
                     width, ", ", count));
  }
  std::vector<double> buckets;
  buckets.reserve(count);
  for (int i = 0; i < count; ++i) buckets.push_back(start + i * width);
  return NormalizeBuckets(std::move(buckets));
}

std::vector<double> RpcDurationBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::vector<double> LongDurationBuckets() {
  return {0.1, 0.5, 1,    2.5,  5,    10,   30,   60,    120,
          300, 600, 1200, 1800, 3600, 5400, 7200, 10800, 14400};
}

absl::Status Registry::Validate(absl::string_view name, absl::string_view help, MetricType type,
                                const std::vector<std::string>& label_names) const {
  if (!IsValidMetricName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid metric name '", name, "'"));
  }
  if (help.empty() || !IsValidUtf8(help)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metric ", name, " needs a non-empty UTF-8 help text"));
  }
  std::set<absl::string_view> seen;
  for (const std::string& label : label_names) {
    if (!IsValidLabelName(label)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric ", name, ": invalid label name '", label, "'"));
    }
    if (type == MetricType::kHistogram && label == "le") {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram ", name, ": label name 'le' is reserved"));
    }
    if (!seen.insert(label).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric ", name, ": duplicate label name '", label, "'"));
    }
  }
  for (const std::string& series : SeriesNames(name, type)) {
    if (series_names_.count(series) > 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("metric ", name, ": series name ", series, " is already registered"));
    }
  }
  return absl::OkStatus();
}

template <typename F>
F* Registry::Insert(std::unique_ptr<F> family) {
  for (std::string& series : SeriesNames(family->name(), family->type())) {
    series_names_.insert(std::move(series));
  }
  F* raw = family.get();
  families_.emplace(family->name(), std::move(family));
  return raw;
}

absl::StatusOr<CounterFamily*> Registry::AddCounter(absl::string_view name, absl::string_view help,
                                                    std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status status = Validate(name, help, MetricType::kCounter, label_names); !status.ok()) {
    return status;
  }
  CounterFamily* family = Insert(std::make_unique<CounterFamily>(
      std::string(name), std::string(help), MetricType::kCounter, std::move(label_names),
      [] { return std::make_unique<Counter>(); }));
  if (family->label_names().empty()) family->WithLabels({});
  return family;
}

absl::StatusOr<GaugeFamily*> Registry::AddGauge(absl::string_view name, absl::string_view help,
                                                std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status status = Validate(name, help, MetricType::kGauge, label_names); !status.ok()) {
    return status;
  }
  GaugeFamily* family = Insert(std::make_unique<GaugeFamily>(
      std::string(name), std::string(help), MetricType::kGauge, std::move(label_names),
      [] { return std::make_unique<Gauge>(); }));
  if (family->label_names().empty()) family->WithLabels({});
  return family;
}

absl::StatusOr<HistogramFamily*> Registry::AddHistogram(absl::string_view name,
                                                        absl::string_view help,
                                                        std::vector<std::string> label_names,
                                                        std::vector<double> upper_bounds) {
  absl::StatusOr<std::vector<double>> bounds = NormalizeBuckets(std::move(upper_bounds));
  if (!bounds.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("histogram ", name, ": ", bounds.status().message()));
  }
  auto shared_bounds = std::make_shared<const std::vector<double>>(*std::move(bounds));
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status status = Validate(name, help, MetricType::kHistogram, label_names);
      !status.ok()) {
    return status;
  }
  HistogramFamily* family = Insert(std::make_unique<HistogramFamily>(
      std::string(name), std::string(help), MetricType::kHistogram, std::move(label_names),
      [shared_bounds] { return std::make_unique<Histogram>(shared_bounds); }));
  if (family->label_names().empty()) family->WithLabels({});
  return family;
}

absl::StatusOr<CallbackGaugeFamily*> Registry::AddCallbackGauge(
    absl::string_view name, absl::string_view help, std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status status = Validate(name, help, MetricType::kGauge, label_names); !status.ok()) {
    return status;
  }
  return Insert(std::make_unique<CallbackGaugeFamily>(std::string(name), std::string(help),
                                                      std::move(label_names)));
}

std::vector<FamilySnapshot> Registry::Collect() const {
  // Families are never removed, so the pointers stay valid after unlocking;
  // collecting outside the registry lock keeps slow callbacks from blocking
  // registration.
  std::vector<const FamilyBase*> families;
  {
    std::lock_guard<std::mutex> lock(mu_);
    families.reserve(families_.size());
    for (const auto& [name, family] : families_) families.push_back(family.get());
  }
  std::vector<FamilySnapshot> snapshots;
  snapshots.reserve(families.size());
  for (const FamilyBase* family : families) {
    FamilySnapshot snapshot = family->Collect();
    if (!snapshot.samples.empty() || !snapshot.histograms.empty()) {
      snapshots.push_back(std::move(snapshot));
    }
  }
  return snapshots;
}

}  // namespace prune::metrics
