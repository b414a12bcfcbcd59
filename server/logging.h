// spdlog setup for pruned: human-readable lines, or one JSON object per line.
#pragma once

namespace prune::server {

void ConfigureLogging(bool json);

}  // namespace prune::server
