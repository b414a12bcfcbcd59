#include "resource_printer.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "output_format.h"
#include "report_summary.h"
#include "resource_name.h"
#include "shape_parse.h"
#include "target_parse.h"

namespace prune::client {
namespace {

std::string Shape(const google::protobuf::RepeatedField<int64_t>& dims) {
  return FormatShape(std::vector<int64_t>(dims.begin(), dims.end()));
}

std::string StateName(prune::v1::Job::State state) { return prune::v1::Job::State_Name(state); }

std::string JobError(const prune::v1::Job& job) {
  if (job.error().empty()) return job.error_reason();
  if (job.error_reason().empty()) return job.error();
  return absl::StrCat(job.error_reason(), ": ", job.error());
}

}  // namespace

void PrintModel(const prune::v1::Model& model, std::ostream& out) {
  PrintFields(
      out,
      {{"name", model.name()},
       {"display_name", model.display_name()},
       {"input_shape", Shape(model.input_shape())},
       {"size", absl::StrCat(FormatBytes(model.size_bytes()), " (", model.size_bytes(), " bytes)")},
       {"sha256", model.sha256()},
       {"created", FormatTime(model.create_time())}});
}

void PrintModelTable(const std::vector<prune::v1::Model>& models, std::ostream& out) {
  Table table({"NAME", "DISPLAY NAME", "INPUT SHAPE", "SIZE", "SHA256", "CREATED"});
  for (const auto& model : models) {
    table.AddRow({model.name(), model.display_name(), Shape(model.input_shape()),
                  FormatBytes(model.size_bytes()), model.sha256().substr(0, 12),
                  FormatTime(model.create_time())});
  }
  table.Print(out);
}

void PrintDataset(const prune::v1::Dataset& dataset, std::ostream& out) {
  PrintFields(out, {{"name", dataset.name()},
                    {"display_name", dataset.display_name()},
                    {"size", absl::StrCat(FormatBytes(dataset.size_bytes()), " (",
                                          dataset.size_bytes(), " bytes)")},
                    {"sha256", dataset.sha256()},
                    {"created", FormatTime(dataset.create_time())}});
}

void PrintDatasetTable(const std::vector<prune::v1::Dataset>& datasets, std::ostream& out) {
  Table table({"NAME", "DISPLAY NAME", "SIZE", "SHA256", "CREATED"});
  for (const auto& dataset : datasets) {
    table.AddRow({dataset.name(), dataset.display_name(), FormatBytes(dataset.size_bytes()),
                  dataset.sha256().substr(0, 12), FormatTime(dataset.create_time())});
  }
  table.Print(out);
}

void PrintJob(const prune::v1::Job& job, std::ostream& out) {
  std::string finetune;
  if (job.finetune().epochs() > 0) {
    finetune = absl::StrCat(job.finetune().epochs(), " epochs");
    if (job.finetune().learning_rate() > 0) {
      absl::StrAppend(&finetune, ", lr ", job.finetune().learning_rate());
    }
  }
  PrintFields(out, {{"name", job.name()},
                    {"state", StateName(job.state())},
                    {"progress", absl::StrCat(FormatPercent(job.progress()),
                                              job.stage().empty() ? "" : " ", job.stage())},
                    {"model", job.model()},
                    {"dataset", job.dataset()},
                    {"strategy", prune::v1::Strategy_Name(job.strategy())},
                    {"target", FormatTarget(job.target())},
                    {"finetune", finetune},
                    {"seed", absl::StrCat(job.seed())},
                    {"priority", absl::StrCat(job.priority())},
                    {"attempt", absl::StrCat(job.attempt(), "/", job.max_attempts())},
                    {"error", JobError(job)},
                    {"created", FormatTime(job.create_time())},
                    {"started", FormatTime(job.start_time())},
                    {"ended", FormatTime(job.end_time())}});
  if (job.state() == prune::v1::Job::SUCCEEDED && !job.report_json().empty()) {
    out << '\n';
    if (!PrintReportSummary(job.report_json(), out)) {
      out << "(report is not in the expected format; see `prunectl job download`)\n";
    }
  }
}

void PrintJobTable(const std::vector<prune::v1::Job>& jobs, std::ostream& out) {
  Table table({"NAME", "STATE", "PROGRESS", "STAGE", "MODEL", "STRATEGY", "TARGET", "CREATED"});
  for (const auto& job : jobs) {
    table.AddRow({job.name(), StateName(job.state()), FormatPercent(job.progress()),
                  job.stage().empty() ? "-" : job.stage(), ShortName(job.model()),
                  prune::v1::Strategy_Name(job.strategy()), FormatTarget(job.target()),
                  FormatTime(job.create_time())});
  }
  table.Print(out);
}

void PrintCandidateTable(const std::vector<prune::v1::Candidate>& candidates, std::ostream& out) {
  Table table({"INDEX", "MACS", "PARAMS", "SCORE", "FEASIBLE", "PARETO"});
  for (const auto& c : candidates) {
    table.AddRow({std::to_string(c.index()), FormatCount(static_cast<double>(c.macs())),
                  FormatCount(static_cast<double>(c.params())), absl::StrFormat("%.4f", c.score()),
                  c.feasible() ? "yes" : "no", c.pareto() ? "yes" : "no"});
  }
  table.Print(out);
}

void PrintJobEvent(const prune::v1::JobEvent& event, std::ostream& out) {
  out << absl::StrFormat("%s  %-9s  %4s  %-12s  %s", FormatTime(event.time()),
                         StateName(event.state()), FormatPercent(event.progress()),
                         event.stage().empty() ? "-" : event.stage(), event.message())
      << '\n';
}

}  // namespace prune::client
