// Starting the worker afresh in the same process slot. Used when the engine is
// stuck inside LibTorch (see JobWatchdog): the stuck thread cannot be stopped,
// only dropped with the whole process image.
#pragma once

namespace prune::worker {

// Closes every descriptor above stderr (sockets and database connections
// must not leak into the new image: the metrics port would still be bound)
// and execs /proc/self/exe with `argv`. The environment (LD_PRELOAD of
// jemalloc, PRUNE_* settings) carries over. Returns only if exec failed,
// after which the caller should exit and leave the restart to its
// supervisor.
void ReExecSelf(char** argv);

}  // namespace prune::worker
