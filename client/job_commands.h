#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "command_context.h"
#include "prune/v1/resources.pb.h"

namespace prune::client {

struct JobCreateArgs {
  std::string model;
  std::string dataset;
  std::string strategy = "uniform";
  std::string target;
  int32_t latency_batch_size = 0;  // 0: the server's default (32)
  int32_t finetune_epochs = 0;
  double finetune_lr = 0;
  uint64_t seed = 0;
  int32_t priority = 100;
  std::string importance;  // empty: server default (l1)
  int32_t max_evaluations = 0;
  double search_seconds = 0;
  int64_t time_limit_seconds = 0;  // 0: the server's default
  int32_t round_to = 0;            // 0: the server's default (any width)
  int32_t min_channels = 0;
  std::string group_reduction;
  std::string normalization;
  double distill_alpha = 0;
  double distill_temperature = 0;
  double accuracy_floor = 0;
  // Empty: a fresh random UUID for this invocation.
  std::string request_id;
  bool wait = false;
};

// Creates the job (retrying UNAVAILABLE with the same request_id) and prints
// its name; with `wait`, watches it and returns the exit code of its end.
int RunJobCreate(CommandContext& context, const JobCreateArgs& args);

// Prints every event until the job ends; returns the exit code of its end.
int RunJobWatch(CommandContext& context, const std::string& job);

// Prints every page of the job's search candidates (a table, or one
// ListCandidatesResponse as JSON with --json).
int RunJobCandidates(CommandContext& context, const std::string& job, bool pareto_only);

// kExitOk for SUCCEEDED, kExitJobFailed, kExitJobCancelled.
int ExitCodeForState(prune::v1::Job::State state);

// `prunectl job create|get|list|watch|candidates|cancel|download`; the chosen command
// stores its exit code in `exit_code`.
void AddJobCommands(CLI::App& app, CommandContext& context, int& exit_code);

}  // namespace prune::client
