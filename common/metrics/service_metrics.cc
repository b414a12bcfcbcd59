#include "common/metrics/service_metrics.h"

#include <utility>
#include <vector>

namespace prune::metrics {
namespace {

// Assigns `*out` from a StatusOr or returns its error from the caller.
#define PRUNE_METRICS_ASSIGN(out, expr)       \
  do {                                        \
    auto prune_metrics_result = (expr);       \
    if (!prune_metrics_result.ok()) {         \
      return prune_metrics_result.status();   \
    }                                         \
    (out) = *std::move(prune_metrics_result); \
  } while (false)

// Evaluations are forward passes over a validation subset: 1 ms .. 10 min.
std::vector<double> EvaluationDurationBuckets() {
  return {0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
}

}  // namespace

absl::StatusOr<ServerMetrics> ServerMetrics::Create(Registry& registry) {
  ServerMetrics m;
  PRUNE_METRICS_ASSIGN(
      m.rpc_requests,
      registry.AddCounter("prune_rpc_requests_total",
                          "gRPC requests handled, by method and status code.", {"method", "code"}));
  PRUNE_METRICS_ASSIGN(m.rpc_duration,
                       registry.AddHistogram("prune_rpc_duration_seconds",
                                             "gRPC request latency in seconds, by method.",
                                             {"method"}, RpcDurationBuckets()));
  PRUNE_METRICS_ASSIGN(
      m.upload_bytes,
      registry.AddCounter("prune_upload_bytes_total",
                          "Bytes received in uploads, by kind (model, dataset).", {"kind"}));
  PRUNE_METRICS_ASSIGN(
      m.jobs_created,
      registry.AddCounter("prune_jobs_created_total", "Pruning jobs created, by search strategy.",
                          {"strategy"}));
  PRUNE_METRICS_ASSIGN(m.jobs, registry.AddCallbackGauge(
                                   "prune_jobs", "Jobs in the queue table, by state.", {"state"}));
  return m;
}

absl::StatusOr<WorkerMetrics> WorkerMetrics::Create(Registry& registry) {
  WorkerMetrics m;
  HistogramFamily* queue_wait = nullptr;
  PRUNE_METRICS_ASSIGN(
      queue_wait,
      registry.AddHistogram("prune_job_queue_wait_seconds",
                            "Seconds from job creation (or re-queue) until a worker claimed it.",
                            {}, LongDurationBuckets()));
  m.job_queue_wait = &queue_wait->WithLabels({});
  PRUNE_METRICS_ASSIGN(m.job_duration,
                       registry.AddHistogram("prune_job_duration_seconds",
                                             "Seconds a worker spent on one job attempt, by "
                                             "outcome.",
                                             {"outcome"}, LongDurationBuckets()));
  CounterFamily* counter = nullptr;
  PRUNE_METRICS_ASSIGN(counter, registry.AddCounter("prune_job_attempts_total",
                                                    "Job attempts started (successful claims)."));
  m.job_attempts = &counter->WithLabels({});
  PRUNE_METRICS_ASSIGN(counter,
                       registry.AddCounter("prune_job_rescues_total",
                                           "Jobs re-claimed after their previous worker lost "
                                           "its lease."));
  m.job_rescues = &counter->WithLabels({});
  GaugeFamily* gauge = nullptr;
  PRUNE_METRICS_ASSIGN(
      gauge, registry.AddGauge("prune_worker_busy", "1 while this worker runs a job, else 0."));
  m.busy = &gauge->WithLabels({});
  PRUNE_METRICS_ASSIGN(counter, registry.AddCounter("prune_evaluations_total",
                                                    "Candidate model evaluations completed."));
  m.evaluations = &counter->WithLabels({});
  HistogramFamily* histogram = nullptr;
  PRUNE_METRICS_ASSIGN(histogram, registry.AddHistogram("prune_evaluation_duration_seconds",
                                                        "Seconds per candidate model evaluation.",
                                                        {}, EvaluationDurationBuckets()));
  m.evaluation_duration = &histogram->WithLabels({});
  PRUNE_METRICS_ASSIGN(counter, registry.AddCounter("prune_search_episodes_total",
                                                    "Pruning search episodes completed."));
  m.search_episodes = &counter->WithLabels({});
  PRUNE_METRICS_ASSIGN(gauge,
                       registry.AddGauge("prune_best_accuracy",
                                         "Best candidate accuracy (0..1) of the running job."));
  m.best_accuracy = &gauge->WithLabels({});
  // Powers of two from 64 MiB to 256 GiB: jobs range from tiny CNNs to
  // ImageNet-size fine-tunes.
  std::vector<double> memory_buckets;
  for (double bytes = 64.0 * (1 << 20); bytes <= 256.0 * (1ull << 30); bytes *= 2) {
    memory_buckets.push_back(bytes);
  }
  PRUNE_METRICS_ASSIGN(histogram,
                       registry.AddHistogram("prune_job_peak_memory_bytes",
                                             "Peak resident memory of each job's sandboxed "
                                             "engine process.",
                                             {}, memory_buckets));
  m.job_peak_memory = &histogram->WithLabels({});
  PRUNE_METRICS_ASSIGN(histogram,
                       registry.AddHistogram("prune_job_cpu_seconds",
                                             "CPU seconds (user + system, all threads) of each "
                                             "job's sandboxed engine process.",
                                             {}, LongDurationBuckets()));
  m.job_cpu_seconds = &histogram->WithLabels({});
  return m;
}

#undef PRUNE_METRICS_ASSIGN

}  // namespace prune::metrics
