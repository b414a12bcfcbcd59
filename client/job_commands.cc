#include "job_commands.h"

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "download_stream.h"
#include "enum_parse.h"
#include "exit_codes.h"
#include "job_watch.h"
#include "output_format.h"
#include "request_id.h"
#include "resource_name.h"
#include "resource_printer.h"
#include "target_parse.h"

namespace prune::client {
namespace {

absl::StatusOr<prune::v1::CreateJobRequest> BuildCreateRequest(const JobCreateArgs& args) {
  prune::v1::CreateJobRequest request;
  prune::v1::Job& job = *request.mutable_job();
  absl::StatusOr<std::string> model = CheckReference(args.model, "models");
  if (!model.ok()) return model.status();
  job.set_model(*model);
  if (!args.dataset.empty()) {
    absl::StatusOr<std::string> dataset = CheckReference(args.dataset, "datasets");
    if (!dataset.ok()) return dataset.status();
    job.set_dataset(*dataset);
  }
  absl::StatusOr<prune::v1::Target> target = ParseTarget(args.target);
  if (!target.ok()) return target.status();
  *job.mutable_target() = *target;
  if (args.latency_batch_size < 0) {
    return absl::InvalidArgumentError("--latency-batch-size must not be negative");
  }
  job.mutable_target()->set_latency_batch_size(args.latency_batch_size);
  absl::StatusOr<prune::v1::Strategy> strategy = ParseStrategy(args.strategy);
  if (!strategy.ok()) return strategy.status();
  job.set_strategy(*strategy);
  if (args.finetune_epochs < 0 || args.finetune_lr < 0) {
    return absl::InvalidArgumentError("--finetune-epochs and --finetune-lr must not be negative");
  }
  job.mutable_finetune()->set_epochs(args.finetune_epochs);
  job.mutable_finetune()->set_learning_rate(args.finetune_lr);
  job.set_seed(args.seed);
  job.set_priority(args.priority);
  job.set_importance(args.importance);
  if (args.max_evaluations < 0 || args.search_seconds < 0) {
    return absl::InvalidArgumentError(
        "--max-evaluations and --search-seconds must not be negative");
  }
  job.mutable_search()->set_max_evaluations(args.max_evaluations);
  job.mutable_search()->set_max_seconds(args.search_seconds);
  job.mutable_search()->set_accuracy_floor(args.accuracy_floor);
  if (args.time_limit_seconds < 0) {
    return absl::InvalidArgumentError("--time-limit must not be negative");
  }
  job.set_time_limit_seconds(args.time_limit_seconds);
  job.mutable_channels()->set_round_to(args.round_to);
  job.mutable_channels()->set_min_channels(args.min_channels);
  job.mutable_channels()->set_group_reduction(args.group_reduction);
  job.mutable_channels()->set_normalization(args.normalization);
  job.mutable_finetune()->set_distillation_alpha(args.distill_alpha);
  job.mutable_finetune()->set_distillation_temperature(args.distill_temperature);
  request.set_request_id(args.request_id.empty() ? NewRequestId() : args.request_id);
  return request;
}

absl::StatusOr<prune::v1::Job> CreateWithRetries(CommandContext& context, Connection& connection,
                                                 const prune::v1::CreateJobRequest& request) {
  std::chrono::milliseconds backoff = context.retry.initial_backoff;
  for (int attempt = 0;; ++attempt) {
    prune::v1::Job job;
    auto call = connection.NewContext(CallKind::kUnary);
    grpc::Status status = connection.stub().CreateJob(call.get(), request, &job);
    if (status.ok()) return job;
    // Safe to repeat: the same request_id returns the first job.
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE ||
        attempt >= context.retry.max_retries) {
      return FromGrpc(status);
    }
    context.retry.Sleep(backoff);
    backoff = context.retry.NextBackoff(backoff);
  }
}

absl::StatusOr<prune::v1::Job> GetJob(Connection& connection, const std::string& name) {
  prune::v1::GetJobRequest request;
  request.set_name(name);
  prune::v1::Job job;
  auto call = connection.NewContext(CallKind::kUnary);
  grpc::Status status = connection.stub().GetJob(call.get(), request, &job);
  if (!status.ok()) return FromGrpc(status);
  return job;
}

void PrintJobOutcome(CommandContext& context, const prune::v1::Job& job) {
  if (context.json) {
    *context.out << ToJson(job) << '\n';
    return;
  }
  if (job.state() == prune::v1::Job::SUCCEEDED) {
    *context.out << '\n';
    PrintJob(job, *context.out);
    return;
  }
  std::string reason = job.error_reason().empty() ? "" : absl::StrCat(job.error_reason(), ": ");
  *context.err << "job " << job.name() << " " << prune::v1::Job::State_Name(job.state()) << ": "
               << reason << (job.error().empty() ? "(no error message)" : job.error()) << '\n';
}

// Watches `name` to its end, then prints the final job; returns the exit code.
int WatchToEnd(CommandContext& context, Connection& connection, const std::string& name) {
  absl::StatusOr<prune::v1::Job::State> state =
      WatchJobUntilDone(connection, name, context.retry, [&context](const prune::v1::JobEvent& e) {
        if (context.json) {
          *context.out << ToJson(e) << '\n';
        } else {
          PrintJobEvent(e, *context.out);
        }
        context.out->flush();
      });
  if (!state.ok()) return context.ReportError(state.status());
  absl::StatusOr<prune::v1::Job> job = GetJob(connection, name);
  if (job.ok()) {
    PrintJobOutcome(context, *job);
  } else {
    // The watch already told us how it ended; the details are a bonus.
    *context.err << "job " << name << " ended " << prune::v1::Job::State_Name(*state)
                 << " (details unavailable: " << job.status().message() << ")\n";
  }
  return ExitCodeForState(*state);
}

int Get(CommandContext& context, const std::string& reference) {
  absl::StatusOr<std::string> name = CheckReference(reference, "jobs");
  if (!name.ok()) return context.ReportUsageError(name.status());
  absl::StatusOr<Connection*> connection = context.connection();
  if (!connection.ok()) return context.ReportError(connection.status());
  absl::StatusOr<prune::v1::Job> job = GetJob(**connection, *name);
  if (!job.ok()) return context.ReportError(job.status());
  if (context.json) {
    *context.out << ToJson(*job) << '\n';
  } else {
    PrintJob(*job, *context.out);
  }
  return kExitOk;
}

int List(CommandContext& context, const std::string& state_filter,
         const std::string& model_filter) {
  prune::v1::ListJobsRequest request;
  request.set_page_size(1000);
  request.set_model(model_filter);
  if (!state_filter.empty()) {
    absl::StatusOr<prune::v1::Job::State> state = ParseJobState(state_filter);
    if (!state.ok()) return context.ReportUsageError(state.status());
    request.set_state(*state);
  }
  absl::StatusOr<Connection*> connection = context.connection();
  if (!connection.ok()) return context.ReportError(connection.status());
  prune::v1::ListJobsResponse all;
  do {
    prune::v1::ListJobsResponse page;
    auto call = (*connection)->NewContext(CallKind::kUnary);
    grpc::Status status = (*connection)->stub().ListJobs(call.get(), request, &page);
    if (!status.ok()) return context.ReportError(FromGrpc(status));
    all.mutable_jobs()->MergeFrom(page.jobs());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (context.json) {
    *context.out << ToJson(all) << '\n';
  } else {
    PrintJobTable({all.jobs().begin(), all.jobs().end()}, *context.out);
  }
  return kExitOk;
}

}  // namespace

int RunJobCandidates(CommandContext& context, const std::string& reference, bool pareto_only) {
  absl::StatusOr<std::string> name = CheckReference(reference, "jobs");
  if (!name.ok()) return context.ReportUsageError(name.status());
  absl::StatusOr<Connection*> connection = context.connection();
  if (!connection.ok()) return context.ReportError(connection.status());
  prune::v1::ListCandidatesRequest request;
  request.set_job(*name);
  request.set_page_size(1000);
  request.set_pareto_only(pareto_only);
  prune::v1::ListCandidatesResponse all;
  do {
    prune::v1::ListCandidatesResponse page;
    auto call = (*connection)->NewContext(CallKind::kUnary);
    grpc::Status status = (*connection)->stub().ListCandidates(call.get(), request, &page);
    if (!status.ok()) return context.ReportError(FromGrpc(status));
    all.mutable_candidates()->MergeFrom(page.candidates());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (context.json) {
    *context.out << ToJson(all) << '\n';
  } else {
    PrintCandidateTable({all.candidates().begin(), all.candidates().end()}, *context.out);
  }
  return kExitOk;
}

namespace {

int Cancel(CommandContext& context, const std::string& reference) {
  absl::StatusOr<std::string> name = CheckReference(reference, "jobs");
  if (!name.ok()) return context.ReportUsageError(name.status());
  absl::StatusOr<Connection*> connection = context.connection();
  if (!connection.ok()) return context.ReportError(connection.status());
  prune::v1::CancelJobRequest request;
  request.set_name(*name);
  prune::v1::Job job;
  auto call = (*connection)->NewContext(CallKind::kUnary);
  grpc::Status status = (*connection)->stub().CancelJob(call.get(), request, &job);
  if (!status.ok()) return context.ReportError(FromGrpc(status));
  if (context.json) {
    *context.out << ToJson(job) << '\n';
  } else {
    *context.out << job.name() << ": " << prune::v1::Job::State_Name(job.state())
                 << (job.state() == prune::v1::Job::RUNNING ? " (cancel requested)" : "") << '\n';
  }
  return kExitOk;
}

struct DownloadArgs {
  std::string job;
  std::string model_out;
  std::string report_out;
};

int Download(CommandContext& context, const DownloadArgs& args) {
  absl::StatusOr<std::string> name = CheckReference(args.job, "jobs");
  if (!name.ok()) return context.ReportUsageError(name.status());
  std::vector<std::pair<prune::v1::ArtifactKind, std::string>> wanted;
  if (args.model_out.empty() && args.report_out.empty()) {
    const std::string stem = ShortName(*name);
    wanted = {{prune::v1::PRUNED_MODEL, stem + ".pruned.pt"},
              {prune::v1::REPORT, stem + ".report.json"}};
  }
  if (!args.model_out.empty()) wanted.emplace_back(prune::v1::PRUNED_MODEL, args.model_out);
  if (!args.report_out.empty()) wanted.emplace_back(prune::v1::REPORT, args.report_out);

  absl::StatusOr<Connection*> connection = context.connection();
  if (!connection.ok()) return context.ReportError(connection.status());
  for (const auto& [kind, path] : wanted) {
    absl::StatusOr<DownloadedFile> file = DownloadArtifactToFile(**connection, *name, kind, path);
    if (!file.ok()) return context.ReportError(file.status());
    if (context.json) {
      *context.out << nlohmann::json{{"kind", prune::v1::ArtifactKind_Name(kind)},
                                     {"path", file->path},
                                     {"size_bytes", file->size_bytes},
                                     {"sha256", file->sha256}}
                          .dump()
                   << '\n';
    } else {
      *context.out << "wrote " << file->path << " (" << FormatBytes(file->size_bytes) << ", sha256 "
                   << file->sha256 << ")\n";
    }
  }
  return kExitOk;
}

}  // namespace

int ExitCodeForState(prune::v1::Job::State state) {
  switch (state) {
    case prune::v1::Job::SUCCEEDED:
      return kExitOk;
    case prune::v1::Job::FAILED:
      return kExitJobFailed;
    case prune::v1::Job::CANCELLED:
      return kExitJobCancelled;
    default:
      return kExitError;
  }
}

int RunJobCreate(CommandContext& context, const JobCreateArgs& args) {
  absl::StatusOr<prune::v1::CreateJobRequest> request = BuildCreateRequest(args);
  if (!request.ok()) return context.ReportUsageError(request.status());
  absl::StatusOr<Connection*> connection = context.connection();
  if (!connection.ok()) return context.ReportError(connection.status());
  absl::StatusOr<prune::v1::Job> job = CreateWithRetries(context, **connection, *request);
  if (!job.ok()) return context.ReportError(job.status());
  if (context.json) {
    *context.out << ToJson(*job) << '\n';
  } else {
    *context.out << job->name() << '\n';
  }
  context.out->flush();
  if (!args.wait) return kExitOk;
  return WatchToEnd(context, **connection, job->name());
}

int RunJobWatch(CommandContext& context, const std::string& reference) {
  absl::StatusOr<std::string> name = CheckReference(reference, "jobs");
  if (!name.ok()) return context.ReportUsageError(name.status());
  absl::StatusOr<Connection*> connection = context.connection();
  if (!connection.ok()) return context.ReportError(connection.status());
  return WatchToEnd(context, **connection, *name);
}

void AddJobCommands(CLI::App& app, CommandContext& context, int& exit_code) {
  CLI::App* job = app.add_subcommand("job", "Create, follow and fetch pruning jobs");
  job->require_subcommand(1);

  auto create_args = std::make_shared<JobCreateArgs>();
  CLI::App* create = job->add_subcommand("create", "Create a pruning job and print its name");
  create->add_option("--model", create_args->model, "Model resource name, id or display name")
      ->required();
  create->add_option("--dataset", create_args->dataset,
                     "Dataset for evaluation/fine-tuning (optional: no accuracy without it)");
  create
      ->add_option("--strategy", create_args->strategy,
                   "uniform, global, amc, metapruning or autoslim")
      ->capture_default_str();
  create
      ->add_option("--target", create_args->target,
                   "Cost to keep: flops=RATIO, params=RATIO or latency=RATIO (latency on the "
                   "worker's device, predicted by a per-layer table), RATIO in (0,1)")
      ->required();
  create
      ->add_option("--latency-batch-size", create_args->latency_batch_size,
                   "Batch size of the latency measurements (report, latency=RATIO target); "
                   "0: the server's default, 32")
      ->capture_default_str();
  create->add_option("--finetune-epochs", create_args->finetune_epochs, "0 skips fine-tuning")
      ->capture_default_str();
  create
      ->add_option("--finetune-lr", create_args->finetune_lr, "Initial SGD lr (0: server default)")
      ->capture_default_str();
  create->add_option("--seed", create_args->seed, "Seed for every random choice")
      ->capture_default_str();
  create->add_option("--priority", create_args->priority, "Lower runs first")
      ->capture_default_str();
  create->add_option("--importance", create_args->importance,
                     "l1 (default), l2, bn_scale, taylor, fpgm or random");
  create->add_option("--max-evaluations", create_args->max_evaluations,
                     "Search budget in candidate evaluations (0: strategy default)");
  create->add_option("--search-seconds", create_args->search_seconds,
                     "Search budget in wall-clock seconds (0: no limit)");
  create->add_option("--accuracy-floor", create_args->accuracy_floor,
                     "Search strategies: the smallest model within the target that keeps this "
                     "top-1 accuracy before fine-tuning, e.g. 0.85 (default 0: none)");
  create->add_option("--time-limit", create_args->time_limit_seconds,
                     "Wall-clock limit of one attempt in seconds (0: server default, 24 h)");
  create->add_option("--round-to", create_args->round_to,
                     "Kept channel counts are multiples of this, e.g. 8 (default: any)");
  create->add_option("--min-channels", create_args->min_channels,
                     "Fewest channels a prunable group keeps (default 1)");
  create->add_option("--group-reduction", create_args->group_reduction,
                     "Combine a group's channel scores: mean (default), sum or max");
  create->add_option("--normalization", create_args->normalization,
                     "Per-group score normalisation for GLOBAL: mean (default), max, sum, none");
  create->add_option("--distill-alpha", create_args->distill_alpha,
                     "Weight of knowledge distillation from the original model while "
                     "fine-tuning, in [0, 1] (default 0: off)");
  create->add_option("--distill-temperature", create_args->distill_temperature,
                     "Softmax temperature of the distillation term (default 4)");
  create->add_option("--request-id", create_args->request_id,
                     "Idempotency key (default: a random UUID per invocation)");
  create->add_flag("--wait", create_args->wait,
                   "Follow the job to its end; exit 0 only if it SUCCEEDED");
  create->callback(
      [&context, &exit_code, create_args] { exit_code = RunJobCreate(context, *create_args); });

  auto reference = std::make_shared<std::string>();
  const char* kJobHelp = "Job resource name or id";
  CLI::App* get = job->add_subcommand("get", "Show a job (and its before/after summary)");
  get->add_option("JOB", *reference, kJobHelp)->required();
  get->callback([&context, &exit_code, reference] { exit_code = Get(context, *reference); });

  auto state_filter = std::make_shared<std::string>();
  auto model_filter = std::make_shared<std::string>();
  CLI::App* list = job->add_subcommand("list", "List the tenant's jobs");
  list->add_option("--state", *state_filter, "queued, running, succeeded, failed or cancelled");
  list->add_option("--model", *model_filter, "Only jobs of this model (name, id or display name)");
  list->callback([&context, &exit_code, state_filter, model_filter] {
    exit_code = List(context, *state_filter, *model_filter);
  });

  CLI::App* watch = job->add_subcommand("watch", "Print a job's events until it ends");
  watch->add_option("JOB", *reference, kJobHelp)->required();
  watch->callback(
      [&context, &exit_code, reference] { exit_code = RunJobWatch(context, *reference); });

  auto pareto_only = std::make_shared<bool>(false);
  CLI::App* candidates = job->add_subcommand(
      "candidates", "List the candidates a search evaluated (index, MACs, params, score)");
  candidates->add_option("JOB", *reference, kJobHelp)->required();
  candidates->add_flag("--pareto-only", *pareto_only, "Only the Pareto front");
  candidates->callback([&context, &exit_code, reference, pareto_only] {
    exit_code = RunJobCandidates(context, *reference, *pareto_only);
  });

  CLI::App* cancel = job->add_subcommand("cancel", "Cancel a queued or running job");
  cancel->add_option("JOB", *reference, kJobHelp)->required();
  cancel->callback([&context, &exit_code, reference] { exit_code = Cancel(context, *reference); });

  auto download_args = std::make_shared<DownloadArgs>();
  CLI::App* download =
      job->add_subcommand("download", "Download the pruned model and/or report of a job");
  download->add_option("JOB", download_args->job, kJobHelp)->required();
  download->add_option("--model-out", download_args->model_out, "Where to write the pruned model");
  download->add_option("--report-out", download_args->report_out, "Where to write the report");
  download->callback(
      [&context, &exit_code, download_args] { exit_code = Download(context, *download_args); });
}

}  // namespace prune::client
