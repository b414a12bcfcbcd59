#pragma once

#include <ostream>
#include <vector>

#include "prune/v1/resources.pb.h"

namespace prune::client {

// Human-readable views of the API resources. Machine output is ToJson.
void PrintModel(const prune::v1::Model& model, std::ostream& out);
void PrintModelTable(const std::vector<prune::v1::Model>& models, std::ostream& out);

void PrintDataset(const prune::v1::Dataset& dataset, std::ostream& out);
void PrintDatasetTable(const std::vector<prune::v1::Dataset>& datasets, std::ostream& out);

// Fields, and for a SUCCEEDED job the before/after summary of its report.
void PrintJob(const prune::v1::Job& job, std::ostream& out);
void PrintJobTable(const std::vector<prune::v1::Job>& jobs, std::ostream& out);

// One line: time, state, progress, stage, message.
// INDEX, MACS, PARAMS, SCORE, FEASIBLE, PARETO.
void PrintCandidateTable(const std::vector<prune::v1::Candidate>& candidates, std::ostream& out);

void PrintJobEvent(const prune::v1::JobEvent& event, std::ostream& out);

}  // namespace prune::client
