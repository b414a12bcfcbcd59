#pragma once

#include <CLI/CLI.hpp>

#include "command_context.h"

namespace prune::client {

// `prunectl model upload|get|list|delete`; the chosen command stores its exit
// code in `exit_code`.
void AddModelCommands(CLI::App& app, CommandContext& context, int& exit_code);

}  // namespace prune::client
