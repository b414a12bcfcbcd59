// A small thread-safe Prometheus metric registry: counter, gauge, histogram and
// callback-gauge families with labels. Rendering lives in text_format.h, HTTP
// exposure in metrics_http_server.h.
#ifndef PRUNE_COMMON_METRICS_REGISTRY_H_
#define PRUNE_COMMON_METRICS_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace prune::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

using LabelValues = std::vector<std::string>;

// Monotonic counter. Thread-safe; lock-free.
class Counter {
 public:
  // Negative and NaN increments are ignored: a counter never goes down.
  void Increment(double amount = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Value that goes up and down. Thread-safe; lock-free.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Increment(double amount = 1.0);
  void Decrement(double amount = 1.0) { Increment(-amount); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Fixed-bucket histogram. Thread-safe; lock-free.
class Histogram {
 public:
  struct Snapshot {
    // cumulative_counts[i] counts observations <= upper_bounds[i]; the extra
    // last element is the +Inf bucket and equals the total count.
    std::vector<std::uint64_t> cumulative_counts;
    double sum = 0.0;
  };

  // `upper_bounds` must already be normalized (see NormalizeBuckets).
  explicit Histogram(std::shared_ptr<const std::vector<double>> upper_bounds);

  // NaN observations are ignored (they would poison _sum forever).
  void Observe(double value);
  Snapshot TakeSnapshot() const;
  const std::vector<double>& upper_bounds() const { return *upper_bounds_; }

 private:
  std::shared_ptr<const std::vector<double>> upper_bounds_;
  // Per-bucket (non-cumulative) counts; one more than upper_bounds_ for +Inf.
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<double> sum_{0.0};
};

// One collected series of a counter or gauge family.
struct Sample {
  LabelValues label_values;
  double value = 0.0;
};

// One collected series of a histogram family.
struct HistogramSample {
  LabelValues label_values;
  Histogram::Snapshot data;
};

// A point-in-time copy of one family, children sorted by label values.
struct FamilySnapshot {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<std::string> label_names;
  std::vector<double> upper_bounds;         // histograms only
  std::vector<Sample> samples;              // counters and gauges
  std::vector<HistogramSample> histograms;  // histograms only
};

// Common part of every family; families are owned by a Registry.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type,
             std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  virtual FamilySnapshot Collect() const = 0;

 protected:
  FamilySnapshot EmptySnapshot() const;
  // Arity check plus UTF-8 repair of label values.
  absl::StatusOr<LabelValues> CheckLabelValues(LabelValues values) const;

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
};

// A family of children of one metric kind, keyed by label values. Children live
// as long as the family (i.e. the Registry), so references may be cached.
template <typename Metric>
class Family final : public FamilyBase {
 public:
  using Factory = std::function<std::unique_ptr<Metric>()>;

  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         Factory factory)
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
        factory_(std::move(factory)),
        discarded_(factory_()) {}

  // Returns the child for `label_values`, creating it on first use. The lookup
  // takes a lock: hot paths should call it once and keep the reference.
  // A wrong number of label values returns a child that is never exported
  // (use TryWithLabels to see the error).
  Metric& WithLabels(LabelValues label_values) {
    absl::StatusOr<Metric*> child = TryWithLabels(std::move(label_values));
    return child.ok() ? **child : *discarded_;
  }

  absl::StatusOr<Metric*> TryWithLabels(LabelValues label_values) {
    absl::StatusOr<LabelValues> checked = CheckLabelValues(std::move(label_values));
    if (!checked.ok()) return checked.status();
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      auto it = children_.find(*checked);
      if (it != children_.end()) return it->second.get();
    }
    std::unique_lock<std::shared_mutex> lock(mu_);
    std::unique_ptr<Metric>& slot = children_[*std::move(checked)];
    if (slot == nullptr) slot = factory_();
    return slot.get();
  }

  FamilySnapshot Collect() const override;

 private:
  const Factory factory_;
  const std::unique_ptr<Metric> discarded_;
  // std:: rather than absl::Mutex: Debian's absl is not built with TSan
  // annotations, so TSan could not check code using it.
  mutable std::shared_mutex mu_;
  std::map<LabelValues, std::unique_ptr<Metric>> children_;  // guarded by mu_
};

template <>
FamilySnapshot Family<Counter>::Collect() const;
template <>
FamilySnapshot Family<Gauge>::Collect() const;
template <>
FamilySnapshot Family<Histogram>::Collect() const;

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// A gauge family whose series are computed at scrape time, e.g. the number of
// jobs per state read from the database. The callback runs on the scraping
// thread; keep it fast (or serve a cached value).
class CallbackGaugeFamily final : public FamilyBase {
 public:
  using Callback = std::function<std::vector<Sample>()>;

  CallbackGaugeFamily(std::string name, std::string help, std::vector<std::string> label_names);

  // Replaces the callback. Rows with the wrong number of label values are
  // dropped; for repeated label values the first row wins.
  void SetCallback(Callback callback);
  // After this returns the old callback is not running and is never called
  // again, so objects it captured may be destroyed.
  void ClearCallback() { SetCallback(nullptr); }

  FamilySnapshot Collect() const override;

 private:
  mutable std::mutex mu_;
  Callback callback_;  // guarded by mu_
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Each Add* validates the name (`[a-zA-Z_:][a-zA-Z0-9_:]*`), the label names
  // (`[a-zA-Z_][a-zA-Z0-9_]*`, no `__` prefix, no duplicates) and a non-empty
  // UTF-8 help text, and returns AlreadyExists when any exposed series name
  // (including a histogram's _bucket/_sum/_count) is taken. Families without
  // labels export their single child (value 0) right away.
  absl::StatusOr<CounterFamily*> AddCounter(absl::string_view name, absl::string_view help,
                                            std::vector<std::string> label_names = {});
  absl::StatusOr<GaugeFamily*> AddGauge(absl::string_view name, absl::string_view help,
                                        std::vector<std::string> label_names = {});
  // `upper_bounds` must be finite and strictly increasing; a trailing +Inf is
  // accepted and dropped (the +Inf bucket is always implied). Label `le` is
  // reserved.
  absl::StatusOr<HistogramFamily*> AddHistogram(absl::string_view name, absl::string_view help,
                                                std::vector<std::string> label_names,
                                                std::vector<double> upper_bounds);
  absl::StatusOr<CallbackGaugeFamily*> AddCallbackGauge(absl::string_view name,
                                                        absl::string_view help,
                                                        std::vector<std::string> label_names = {});

  // Snapshot of every family, sorted by name. Families that have no series
  // (labelled, nothing recorded yet) are omitted.
  std::vector<FamilySnapshot> Collect() const;

 private:
  absl::Status Validate(absl::string_view name, absl::string_view help, MetricType type,
                        const std::vector<std::string>& label_names) const;
  template <typename F>
  F* Insert(std::unique_ptr<F> family);

  // Guards families_ and series_names_; Validate and Insert need it held.
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>> families_;
  // Every series name a registered family exposes, for collision checks.
  std::set<std::string> series_names_;
};

// Validation helpers, exposed for tests and for code that builds names.
bool IsValidMetricName(absl::string_view name);
bool IsValidLabelName(absl::string_view name);
// Checks bucket bounds (finite, strictly increasing) and drops a trailing +Inf.
absl::StatusOr<std::vector<double>> NormalizeBuckets(std::vector<double> upper_bounds);

// `count` buckets: start, start*factor, start*factor^2, ...
absl::StatusOr<std::vector<double>> ExponentialBuckets(double start, double factor, int count);
// `count` buckets: start, start+width, start+2*width, ...
absl::StatusOr<std::vector<double>> LinearBuckets(double start, double width, int count);
// RPC latencies: 0.5 ms .. 60 s.
std::vector<double> RpcDurationBuckets();
// Long-running work (queue wait, whole jobs): 0.1 s .. 4 h.
std::vector<double> LongDurationBuckets();

}  // namespace prune::metrics

#endif  // PRUNE_COMMON_METRICS_REGISTRY_H_
