#ifndef PRUNE_ENGINE_ARCHIVE_ENTRY_SIZES_H_
#define PRUNE_ENGINE_ARCHIVE_ENTRY_SIZES_H_

#include <cstddef>
#include <string>

namespace prune::engine {

// Reads the central directory of a zip archive (a torch.save file) and
// bounds what its entries claim to unpack to, before LibTorch's reader
// allocates each record at its declared uncompressed size: a deflated
// "zip bomb" of a few MiB could otherwise ask a worker for terabytes.
// torch.save stores entries uncompressed, so a real file never claims more
// than its own size. Refuses: no end-of-central-directory record, a central
// directory outside the file, an entry claiming more than the file's size,
// or entries claiming more than twice the file's size together. Zip64 sizes
// are read from their extra field. Returns "" when acceptable, else why not.
std::string CheckArchiveEntrySizes(const char* data, size_t size);

}  // namespace prune::engine

#endif  // PRUNE_ENGINE_ARCHIVE_ENTRY_SIZES_H_
