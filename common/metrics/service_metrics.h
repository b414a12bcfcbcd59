// The metric set of common/metrics/README.md. Each process builds one struct on its own
// Registry at startup and passes references to the code that records.
// Labels are bounded sets (method, code, state, ...); never a job or model id.
#ifndef PRUNE_COMMON_METRICS_SERVICE_METRICS_H_
#define PRUNE_COMMON_METRICS_SERVICE_METRICS_H_

#include "absl/status/statusor.h"
#include "common/metrics/registry.h"

namespace prune::metrics {

// pruned, the gRPC front-end.
struct ServerMetrics {
  static absl::StatusOr<ServerMetrics> Create(Registry& registry);

  // {method="CreateJob", code="OK"}: short RPC method name, gRPC code name.
  CounterFamily* rpc_requests = nullptr;    // prune_rpc_requests_total
  HistogramFamily* rpc_duration = nullptr;  // prune_rpc_duration_seconds{method}
  CounterFamily* upload_bytes = nullptr;    // prune_upload_bytes_total{kind="model|dataset"}
  CounterFamily* jobs_created = nullptr;    // prune_jobs_created_total{strategy}
  // prune_jobs{state}: read from the jobs table at scrape time; the server
  // installs the callback once its database pool is up and clears it before
  // the pool goes away.
  CallbackGaugeFamily* jobs = nullptr;
};

// prune-worker. The queue histograms are observed by the worker that claims
// and finishes a job; rescues by the worker that re-claims an expired lease.
struct WorkerMetrics {
  static absl::StatusOr<WorkerMetrics> Create(Registry& registry);

  Histogram* job_queue_wait = nullptr;  // prune_job_queue_wait_seconds
  // {outcome="succeeded|failed|cancelled|lease_lost"}
  HistogramFamily* job_duration = nullptr;   // prune_job_duration_seconds
  Counter* job_attempts = nullptr;           // prune_job_attempts_total
  Counter* job_rescues = nullptr;            // prune_job_rescues_total
  Gauge* busy = nullptr;                     // prune_worker_busy (0 or 1)
  Counter* evaluations = nullptr;            // prune_evaluations_total
  Histogram* evaluation_duration = nullptr;  // prune_evaluation_duration_seconds
  Counter* search_episodes = nullptr;        // prune_search_episodes_total
  Gauge* best_accuracy = nullptr;            // prune_best_accuracy (0..1, running job)
  Histogram* job_peak_memory = nullptr;      // prune_job_peak_memory_bytes (sandboxed jobs)
  Histogram* job_cpu_seconds = nullptr;      // prune_job_cpu_seconds (sandboxed jobs)
};

}  // namespace prune::metrics

#endif  // PRUNE_COMMON_METRICS_SERVICE_METRICS_H_
